#ifndef LEAKHUNT_MAPPINGS_H
#define LEAKHUNT_MAPPINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"

/* A sampled mapping (or what is left of one) that is still mapped. 32 bytes. */
struct lh_mapping {
    uint64_t start;            /* page-aligned */
    uint64_t end;              /* start + the length asked for (a piece: clipped to it); its pages end at end rounded up */
    uint64_t sampled_size : 56; /* the length it was sampled at: its weight's size, kept by the pieces of a partial munmap */
    uint64_t generation : 8;    /* sampling generation its weight is computed at (see sampler.c) */
    uint32_t stack_id;         /* the stack's kind says anonymous or file-backed */
    uint32_t alloc_time_ds;    /* deciseconds since shim start; an mremap'd mapping keeps its first sampled ancestor's */
};

/* Most sampled mappings tracked at once: 16384 × 32 bytes = 512 KiB of the shim's own memory, worst case, demand
 * paged. A sampled mapping that does not fit is not tracked and is counted (mapping_drops). */
#define LH_MAPPING_CAPACITY 16384

/*
 * Region filter: one saturating byte counter per hash bucket of 2 MiB regions of the address space, counting the
 * tracked mappings that touch a region of the bucket, and the lowest and highest address ever tracked. munmap,
 * mremap and mmap(MAP_FIXED) of an untracked range read two bounds and, inside them, one byte per 2 MiB of the range:
 * no lock, no probe. 64 KiB, in .bss.
 */
#define LH_REGION_SHIFT 21
#define LH_REGION_FILTER_BITS 16
/* A range over more regions than this (8 GiB) is not walked: it may hold a tracked mapping. */
#define LH_REGION_WALK_LIMIT 4096
extern LH_HIDDEN _Atomic uint8_t lh_region_filter[1u << LH_REGION_FILTER_BITS];
extern LH_HIDDEN _Atomic uintptr_t lh_tracked_low, lh_tracked_high;

static inline uint32_t lh_region_index(uintptr_t region)
{
    return (uint32_t)(((uint64_t)region * 0x9E3779B97F4A7C15ull) >> (64 - LH_REGION_FILTER_BITS));
}

/* The unsampled path of munmap, mremap and mmap(MAP_FIXED): false means "no tracked mapping in [address,
 * address + length)". */
static inline bool lh_mappings_maybe_tracked(const void *address, size_t length)
{
    uintptr_t start = (uintptr_t)address;
    uintptr_t end = start + length;
    if (length == 0)
        return false;
    if (end < start)
        end = UINTPTR_MAX;
    if (end <= atomic_load_explicit(&lh_tracked_low, memory_order_relaxed) ||
        start >= atomic_load_explicit(&lh_tracked_high, memory_order_relaxed))
        return false;
    uintptr_t first = start >> LH_REGION_SHIFT, last = (end - 1) >> LH_REGION_SHIFT;
    if (last - first >= LH_REGION_WALK_LIMIT)
        return true;
    for (uintptr_t region = first; region <= last; region++)
        if (atomic_load_explicit(&lh_region_filter[lh_region_index(region)], memory_order_relaxed) != 0)
            return true;
    return false;
}

/* Maps the table. False if the memory cannot be mapped. */
LH_HIDDEN bool lh_mappings_init(void);

/* Tracks [start, start + length) (start page-aligned) sampled at `generation`; a tracked range it overlaps (its
 * munmap was missed) is cut away first. False, and a drop counted, when the table is full. */
LH_HIDDEN bool lh_mappings_insert(uintptr_t start, uint64_t length, uint32_t stack_id, uint32_t alloc_time_ds,
                                  uint32_t generation);

/* Puts back an entry as lh_mappings_remove found it (a call that failed after its range was forgotten): what is
 * left of it is replaced by the whole. */
LH_HIDDEN bool lh_mappings_restore(const struct lh_mapping *m);

/*
 * Stops tracking the pages of [start, start + length): entries inside go, entries that cross its ends keep what lies
 * outside (a partial munmap cuts, a hole in the middle splits one in two). Copies the entry that held `start` (as it
 * was) to *held, and returns whether there was one. Every entry the range touched is copied, as it was, to
 * removed[0 .. *removed_count) as far as `removed_room` allows (NULL: not wanted), for lh_mappings_restore.
 */
LH_HIDDEN bool lh_mappings_remove(uintptr_t start, uint64_t length, struct lh_mapping *held,
                                  struct lh_mapping *removed, int removed_room, int *removed_count);

/* Calls visit() for every tracked mapping, under the table's lock. visit must not call back into the table. */
LH_HIDDEN void lh_mappings_for_each(void (*visit)(const struct lh_mapping *, void *), void *context);

LH_HIDDEN uint64_t lh_mappings_count(void);
/* Forgets every tracked mapping (a new attached run in the same process: attach.c). */
LH_HIDDEN void lh_mappings_clear(void);

/* fork(): the table's lock taken before, released after in the parent and the child (lifecycle.c). */
LH_HIDDEN void lh_mappings_lock_for_fork(void);
LH_HIDDEN void lh_mappings_unlock_after_fork(void);

#endif
