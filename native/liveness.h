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
 * Address filter: one saturating 4-bit counter per hash bucket of addresses, counting live sampled blocks in
 * that bucket, two to a byte. free() of an unsampled pointer reads one byte and, almost always, finds its
 * half 0: no lock, no probe of the table. A counter that reaches 15 sticks there (never decremented), which
 * only costs extra table lookups.
 *
 * Sized with the table: LH_FILTER_COUNTERS_PER_LIVE_ENTRY counters per live entry, a power of two, growing as
 * entries come (liveness.c; the count is estimated from the inserting shard's, so it may lag by up to half), up to
 * LH_FILTER_COUNTERS_PER_ENTRY per entry of capacity (2^19 counters, 256 KiB, for the default 65536 entries). A
 * free of an unsampled pointer finds a nonzero counter (and then probes the table) with probability about
 * 1 − e^(−1/32) ≈ 3% (6% while the estimate lags) while the table is far from full, and at most
 * 1 − e^(−1/8) ≈ 12% when it is full.
 *
 * The index keeps neighbours together: a counter per 16-byte granule of address, consecutive granules on
 * consecutive counters, the granule number xor'ed with a scramble of the address's 64 MiB window (so glibc's
 * 64 MiB-aligned arenas, which hold blocks at the same offsets, do not share counters). A free mostly follows
 * frees and allocations nearby, so the byte it reads is mostly in a cache line already loaded; a hash spread over
 * the filter made nearly every free of a busy program (a JVM) a cache miss.
 *
 * free() runs before the constructor, so the filter must be valid from the first instruction: until lh_live_init
 * a static 4 KiB filter is in place (it only ever holds the bootstrap pins). lh_filter_word points at the current
 * filter's bytes, plus log2 of its number of counters in its low 6 bits (both filters are 64-byte aligned): the
 * fast path reads both with one load, and lh_live_init switches filters with one store.
 */
#define LH_FILTER_COUNTERS_PER_LIVE_ENTRY 32
#define LH_FILTER_COUNTERS_PER_ENTRY 8
#define LH_FILTER_STUCK 15u
extern LH_HIDDEN _Atomic uint8_t *_Atomic lh_filter_word;

static inline uint64_t lh_filter_index(uintptr_t address, unsigned bits)
{
    uint64_t scramble = (((uint64_t)address >> 26) * 0x9E3779B97F4A7C15ull) >> 32;
    return (((uint64_t)address >> 4) ^ scramble) & ((UINT64_C(1) << bits) - 1);
}

/* The byte holding `address`'s counter, and (in *bit) where in it the counter starts: 0 or 4. */
static inline _Atomic uint8_t *lh_filter_byte(uintptr_t address, unsigned *bit)
{
    uintptr_t word = (uintptr_t)atomic_load_explicit(&lh_filter_word, memory_order_acquire);
    _Atomic uint8_t *bytes = (_Atomic uint8_t *)(word & ~(uintptr_t)63);
    uint64_t index = lh_filter_index(address, (unsigned)(word & 63));
    *bit = (unsigned)(index & 1) << 2;
    return &bytes[index >> 1];
}

/* The free() fast path: false means "certainly not sampled". */
static inline bool lh_live_maybe_sampled(const void *pointer)
{
    unsigned bit;
    uint8_t pair = atomic_load_explicit(lh_filter_byte((uintptr_t)pointer, &bit), memory_order_relaxed);
    return ((pair >> bit) & 15u) != 0;
}

/* Makes every pointer in the filter bucket of `pointer` take the slow path for good (bootstrap memory). */
LH_HIDDEN void lh_filter_pin(const void *pointer);

/*
 * Sets up a table for at most `capacity` live entries. Worst-case memory, stated: the slots (2 × capacity rounded up
 * to a power of two, 32 bytes each, in shards that grow as they fill: every size of a shard is mapped one after the
 * other, twice the largest, and only the size in use is resident) plus room for every size of the filter (up to 4
 * bytes per entry, rounded up to a power of two, twice). For the default 65536 entries: 8.5 MiB mapped, at most 4
 * MiB + 256 KiB of it resident, and 36 KiB while few samples are live. Returns false if the memory cannot be mapped.
 */
LH_HIDDEN bool lh_live_init(uint64_t capacity);

/* Before a sampled block's stack is captured: starts loading, to write, what lh_live_insert will touch. */
LH_HIDDEN void lh_live_prefetch(uintptr_t address);

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
