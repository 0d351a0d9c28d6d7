#ifndef LEAKHUNT_LIVENESS_H
#define LEAKHUNT_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"

/* A sampled block that is still live. 32 bytes. */
struct lh_live_entry {
    uint64_t address;        /* 0 marks an empty slot: malloc never hands out address 0 */
    uint64_t size : 56;      /* requested bytes */
    uint64_t generation : 8; /* sampling generation its weight is computed at (see sampler.c) */
    uint64_t usable_size;    /* malloc_usable_size() on the sampled path: what the allocator counts as in use */
    uint32_t stack_id;
    uint32_t alloc_time_ds;  /* allocation time, deciseconds since shim start (13 years of range); a realloc'd
                              * block keeps its first sampled ancestor's (lineage) */
};

/*
 * Address filter: one saturating byte counter per hash bucket of addresses, counting live sampled blocks
 * in that bucket. free() of an unsampled pointer reads one byte and, almost always, finds 0: no lock, no
 * probe of the table. 256 KiB, in .bss so it needs no initialisation and is valid before the constructor.
 * A counter that reaches 255 sticks there (never decremented), which only costs extra table lookups.
 */
#define LH_FILTER_BITS 18
extern LH_HIDDEN _Atomic uint8_t lh_address_filter[1u << LH_FILTER_BITS];

static inline uint32_t lh_filter_index(uintptr_t address)
{
    return (uint32_t)(((uint64_t)address * 0xFF51AFD7ED558CCDull) >> (64 - LH_FILTER_BITS));
}

/* The free() fast path: false means "certainly not sampled". */
static inline bool lh_live_maybe_sampled(const void *pointer)
{
    return atomic_load_explicit(&lh_address_filter[lh_filter_index((uintptr_t)pointer)],
                                memory_order_relaxed) != 0;
}

/* Makes every pointer in the filter bucket of `pointer` take the slow path for good (bootstrap memory). */
LH_HIDDEN void lh_filter_pin(const void *pointer);

/*
 * Sets up a table for at most `capacity` live entries. Worst-case memory, stated: the slots
 * (2 × capacity rounded up to a power of two, 32 bytes each) plus the 256 KiB filter; for the default
 * 65536 entries that is 4 MiB + 256 KiB. Returns false if the memory cannot be mapped.
 */
LH_HIDDEN bool lh_live_init(uint64_t capacity);

/* Records a sampled block. When the table is full it first thins (doubling the sampling interval);
 * returns false, and counts a drop, only if the entry still does not fit. */
LH_HIDDEN bool lh_live_insert(uintptr_t address, uint64_t size, uint64_t usable_size, uint32_t stack_id,
                              uint32_t alloc_time_ds);

/* Removes the entry for `address` if there is one (copied to *removed when not NULL). */
LH_HIDDEN bool lh_live_remove(uintptr_t address, struct lh_live_entry *removed);

/* Calls visit() for every live entry, one shard at a time under that shard's lock. visit must not
 * allocate or call back into the table. */
LH_HIDDEN void lh_live_for_each(void (*visit)(const struct lh_live_entry *, void *), void *context);

LH_HIDDEN uint64_t lh_live_count(void);
LH_HIDDEN uint64_t lh_live_capacity(void);

/* fork(): every lock of the table (thinning, then the shards in order) taken before, released after in the
 * parent and the child (lifecycle.c), so a child never inherits a shard locked by a thread it does not have. */
LH_HIDDEN void lh_live_lock_for_fork(void);
LH_HIDDEN void lh_live_unlock_after_fork(void);

/* Doubles the sampling interval and thins the live entries so they stay unbiased at the new interval.
 * Exposed for tests; normally called by insert when the table is full. */
LH_HIDDEN void lh_live_thin(void);

/* Forgets every entry (a new attached run in the same process: attach.c). */
LH_HIDDEN void lh_live_clear(void);

#endif
