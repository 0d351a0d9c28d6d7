#ifndef LEAKHUNT_STACKS_H
#define LEAKHUNT_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"

#define LH_MAX_DEPTH_LIMIT 256
/* Stack id 0 collects the samples whose stack did not fit in the table. */
#define LH_OVERFLOW_STACK 0u

/* A Java frame as AsyncGetCallTrace reports it: the method and the bytecode index in it. */
struct lh_java_frame {
    uint64_t method_id;
    int32_t bci;
    uint32_t reserved;
};

/* Cumulative sampled allocations per stack, kept in the stack table. */
struct lh_stack_stats {
    uint64_t alloc_samples;
    double alloc_objects;
    double alloc_bytes;
};

/* Finds the text of this library, so captured stacks can start at the caller of malloc. */
LH_HIDDEN void lh_stacks_locate_self(void);

/*
 * Captures the calling thread's return addresses, innermost first, without the shim's own frames.
 * DWARF unwinding (libgcc's _Unwind_Backtrace over .eh_frame) goes through code built without frame
 * pointers; it reads only the stack slots the call-frame information describes and the code bytes at
 * return addresses, and it stops at the first frame without unwind information (JIT code, JVM stubs),
 * so it never chases a garbage frame pointer — except where that frame is inside a loaded object (V8's
 * builtins in node): there fpwalk.c goes on by frame pointers into the JIT-compiled frames, every read
 * checked by the kernel. Returns the number of frames written (<= max_depth).
 */
LH_HIDDEN int lh_stacks_capture(uintptr_t *pcs, int max_depth);

/* Sets up a table of at most `max_stacks` stacks. Worst-case memory: 32 bytes of entry, 24 of allocation counts
 * (apart: every sample writes them, every lookup reads the entries), 8 to 16 of index (it
 * grows by doubling, every size in one mapping) and 256 of frame arena (32 words: a native pc is one word, a Java
 * frame two) per stack; deeper stacks just fill the arena sooner. Default 32768 stacks: 10 MiB, mapped on demand. */
LH_HIDDEN bool lh_stacks_init(uint64_t max_stacks, uint32_t max_depth);

/* What a stack allocated: a stack's kind is part of its identity (the same frames calling malloc and mmap are two
 * stacks), written as the SITES entry's `kind` (FORMAT.md). */
enum lh_stack_kind { LH_KIND_MALLOC = 0, LH_KIND_MMAP_ANON = 1, LH_KIND_MMAP_FILE = 2 };

/* Returns the id of this stack of `kind` — native frames, then Java frames — interning it if new, and adds one
 * sample of weight `weight` and `size` bytes to its cumulative counts. A full table yields LH_OVERFLOW_STACK (whose
 * kind is malloc) and counts a drop. */
LH_HIDDEN uint32_t lh_stacks_intern(const uintptr_t *pcs, int depth, const struct lh_java_frame *java,
                                    int java_depth, enum lh_stack_kind kind, uint64_t size, double weight);

/* Adds one sample to the cumulative counts of a stack already interned: a realloc or mremap whose block keeps the
 * stack it was born with (lineage, FORMAT.md). */
LH_HIDDEN void lh_stacks_count_sample(uint32_t id, uint64_t size, double weight);

/* Sets every stack's cumulative counts back to zero: a new attached run counts its own allocations (attach.c). The
 * frames stay, as do the ids the liveness table may still name. Only while sampling is paused: a sample counted
 * meanwhile could land on either side of the reset. */
LH_HIDDEN void lh_stacks_reset_counts(void);

/* The kind of a stack id below lh_stacks_count() (set before the id is published, never changed: no lock). */
LH_HIDDEN enum lh_stack_kind lh_stacks_kind(uint32_t id);

/* Number of ids in use (ids are dense: 0 .. count-1). */
LH_HIDDEN uint32_t lh_stacks_count(void);
LH_HIDDEN uint64_t lh_stacks_capacity(void);

/* Copies a stack's frames (up to LH_MAX_DEPTH_LIMIT of each kind) and stats; returns the native depth and
 * stores the Java depth in *java_depth. Safe against concurrent interning; any pointer may be NULL. */
LH_HIDDEN int lh_stacks_get(uint32_t id, uintptr_t *pcs, struct lh_java_frame *java, int *java_depth,
                            struct lh_stack_stats *stats);

/* fork(): the table's lock taken before, released after in the parent and the child (lifecycle.c). */
LH_HIDDEN void lh_stacks_lock_for_fork(void);
LH_HIDDEN void lh_stacks_unlock_after_fork(void);

#endif
