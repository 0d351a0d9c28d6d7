#ifndef LEAKHUNT_INTERPOSE_H
#define LEAKHUNT_INTERPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"
#include "stacks.h"
#include "state.h"

/* Resolves the next allocator's functions (idempotent, thread-safe). */
LH_HIDDEN void lh_interpose_resolve(void);

/* Resolves the next mmap, mmap64, munmap and mremap (interpose_mmap.c); until then they are system calls. */
LH_HIDDEN void lh_interpose_mmap_resolve(void);

/* Attach (attach.c): forward `name` (malloc family / mmap family) to `function` from now on. */
LH_HIDDEN void lh_interpose_bind_next(const char *name, void *function);
LH_HIDDEN void lh_interpose_mmap_bind_next(const char *name, void *function);

/* Finds the next allocator's own code, when it is a library of its own (jemalloc, tcmalloc preloaded after the
 * shim or linked by the program) rather than glibc or the program itself. Once, when recording starts. */
LH_HIDDEN void lh_interpose_locate_allocator(void);

/* Whether `pc` is in that allocator's code: its mmaps are its heap, whose blocks the malloc family already samples. */
LH_HIDDEN bool lh_interpose_in_allocator(uintptr_t pc);

/* Subtracts `size` from the thread's countdown; true when a sample point fell inside this block. The whole
 * unsampled path of every allocating call, malloc's and mmap's alike: one per-thread countdown, one Poisson rule. */
static inline bool lh_countdown_crossed(size_t size)
{
    lh_tls.bytes_until_sample = (int64_t)((uint64_t)lh_tls.bytes_until_sample - (uint64_t)size);
    return lh_tls.bytes_until_sample <= 0;
}

/* Allocation time as the tables keep it: deciseconds since the shim started (lh_coarse_since_start_ns). */
LH_HIDDEN uint32_t lh_now_deciseconds(void);

/* The calling thread's stack — native frames, then Java frames — interned as `kind`, with one sample of `size`
 * bytes and `weight` counted on it. False (and a drop counted) when no frame buffer came free. Sampled path only:
 * the caller holds the busy guard. */
LH_HIDDEN bool lh_sample_stack(enum lh_stack_kind kind, uint64_t size, double weight, uint32_t *stack_id);

/* For dlsym (interpose_dlsym.c): the shim's own entry point for `name` when `found` is the very function the shim
 * forwards `name` to; NULL otherwise (another function, or a name the shim does not wrap). */
LH_HIDDEN void *lh_interpose_substitute(const char *name, void *found);
LH_HIDDEN void *lh_interpose_mmap_substitute(const char *name, void *found);

#endif
