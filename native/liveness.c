/*
 * The liveness table: sampled blocks that have not been freed yet, keyed by address.
 *
 * Sixteen shards, each an open-addressing table with linear probing and backward-shift deletion (no
 * tombstones, so probes stay short however long the run), guarded by its own mutex. Only sampled
 * allocations and frees that pass the address filter ever take a shard lock; everything else is decided
 * by the filter in liveness.h.
 *
 * Hot path cost: an unsampled free() pays only the filter in liveness.h — a multiply, a shift and a relaxed
 * one-byte load; unsampled allocations never come here. A sampled allocation's insert and a sampled block's
 * free each take one shard's mutex (16 shards: threads rarely meet) and probe a few 32-byte slots; the filter
 * counter is a CAS on one byte. Thinning, when the table fills, walks every shard once under its lock: rare
 * (each round halves the table) and done by one thread, the others drop their sample rather than wait.
 *
 * Capacity is fixed. When the table holds `capacity` entries the sampling interval doubles and every
 * entry is kept with probability p(s, 2S)/p(s, S) — the chance it would have been sampled at the new
 * interval given it was sampled at the old one — and reweighted at the new generation. Estimates stay
 * unbiased; the table drops to about half; thinned entries are counted. Liveness is never reset on a
 * timer: a block allocated at start and still live after a week is exactly what a leak looks like.
 */
#define _GNU_SOURCE
#include "liveness.h"

#include <pthread.h>

#include "sampler.h"

#define SHARD_COUNT 16

struct shard {
    pthread_mutex_t lock;
    struct lh_live_entry *slots;
    uint64_t mask;
    uint64_t used;
} __attribute__((aligned(64)));

static struct shard shards[SHARD_COUNT];
static uint64_t table_capacity;
static _Atomic uint64_t live_entries;
static pthread_mutex_t thinning_lock = PTHREAD_MUTEX_INITIALIZER;

LH_HIDDEN _Atomic uint8_t lh_address_filter[1u << LH_FILTER_BITS];

static inline uint64_t address_hash(uintptr_t address)
{
    /* Blocks are 16-byte aligned; drop the always-zero bits before mixing. */
    return ((uint64_t)address >> 4) * 0x9E3779B97F4A7C15ull;
}

static inline struct shard *shard_of(uint64_t hash)
{
    return &shards[hash >> 60];
}

static void filter_increment(uintptr_t address)
{
    _Atomic uint8_t *counter = &lh_address_filter[lh_filter_index(address)];
    uint8_t seen = atomic_load_explicit(counter, memory_order_relaxed);
    while (seen < 255 &&
           !atomic_compare_exchange_weak_explicit(counter, &seen, (uint8_t)(seen + 1), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

static void filter_decrement(uintptr_t address)
{
    _Atomic uint8_t *counter = &lh_address_filter[lh_filter_index(address)];
    uint8_t seen = atomic_load_explicit(counter, memory_order_relaxed);
    while (seen > 0 && seen < 255 &&
           !atomic_compare_exchange_weak_explicit(counter, &seen, (uint8_t)(seen - 1), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

LH_HIDDEN void lh_filter_pin(const void *pointer)
{
    atomic_store_explicit(&lh_address_filter[lh_filter_index((uintptr_t)pointer)], 255, memory_order_relaxed);
}

LH_HIDDEN bool lh_live_init(uint64_t capacity)
{
    uint64_t per_shard = (2 * capacity + SHARD_COUNT - 1) / SHARD_COUNT;
    uint64_t slots = 64;
    while (slots < per_shard)
        slots <<= 1;
    for (int i = 0; i < SHARD_COUNT; i++) {
        pthread_mutex_init(&shards[i].lock, NULL);
        shards[i].slots = lh_map_memory(slots * sizeof(struct lh_live_entry));
        if (!shards[i].slots)
            return false;
        shards[i].mask = slots - 1;
        shards[i].used = 0;
    }
    table_capacity = capacity;
    return true;
}

/* Shard-local slot index: the hash bits below the shard selector. */
static inline uint64_t home_slot(const struct shard *s, uint64_t hash)
{
    return (hash >> 16) & s->mask;
}

/* Caller holds the shard lock. Returns the slot holding `address` or the empty slot ending its probe. */
static uint64_t probe(const struct shard *s, uintptr_t address, uint64_t hash)
{
    uint64_t i = home_slot(s, hash);
    while (s->slots[i].address != 0 && s->slots[i].address != address)
        i = (i + 1) & s->mask;
    return i;
}

/* Caller holds the shard lock. Backward-shift deletion keeps every remaining entry reachable from its
 * home slot without tombstones. */
static void delete_slot(struct shard *s, uint64_t hole)
{
    uint64_t j = hole;
    for (;;) {
        j = (j + 1) & s->mask;
        if (s->slots[j].address == 0)
            break;
        uint64_t home = home_slot(s, address_hash(s->slots[j].address));
        /* Move entry j into the hole unless its home lies cyclically in (hole, j]. */
        bool home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_between) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole].address = 0;
    s->used--;
}

static bool try_insert(uintptr_t address, uint64_t size, uint64_t usable_size, uint32_t stack_id,
                       uint32_t alloc_time_ds, uint32_t generation)
{
    uint64_t hash = address_hash(address);
    struct shard *s = shard_of(hash);
    bool inserted = false;
    pthread_mutex_lock(&s->lock);
    uint64_t i = probe(s, address, hash);
    if (s->slots[i].address == address) {
        /* A stale entry: its free was missed (it came from inside the shim). The new block replaces it. */
        s->slots[i] = (struct lh_live_entry){address, size, generation, usable_size, stack_id, alloc_time_ds};
        inserted = true;
    } else if (atomic_load_explicit(&live_entries, memory_order_relaxed) < table_capacity &&
               s->used < s->mask) {
        s->slots[i] = (struct lh_live_entry){address, size, generation, usable_size, stack_id, alloc_time_ds};
        s->used++;
        atomic_fetch_add_explicit(&live_entries, 1, memory_order_relaxed);
        filter_increment(address);
        inserted = true;
    }
    pthread_mutex_unlock(&s->lock);
    return inserted;
}

LH_HIDDEN bool lh_live_insert(uintptr_t address, uint64_t size, uint64_t usable_size, uint32_t stack_id,
                              uint32_t alloc_time_ds)
{
    uint32_t generation = lh_sampler_generation();
    if (try_insert(address, size, usable_size, stack_id, alloc_time_ds, generation))
        return true;
    /* Full: one thread thins, the others drop their sample rather than wait. */
    if (pthread_mutex_trylock(&thinning_lock) == 0) {
        if (atomic_load_explicit(&live_entries, memory_order_relaxed) >= table_capacity * 7 / 8)
            lh_live_thin();
        pthread_mutex_unlock(&thinning_lock);
        /* The sample was drawn at the old interval; after thinning it must survive the same coin. */
        uint32_t now = lh_sampler_generation();
        double keep = lh_sample_probability(size, now) / lh_sample_probability(size, generation);
        double coin = (double)((address_hash(address) ^ alloc_time_ds) >> 11) * 0x1.0p-53;
        if (coin >= keep) {
            atomic_fetch_add_explicit(&lh_counters.thinned_entries, 1, memory_order_relaxed);
            return false;
        }
        if (try_insert(address, size, usable_size, stack_id, alloc_time_ds, now))
            return true;
    }
    atomic_fetch_add_explicit(&lh_counters.table_drops, 1, memory_order_relaxed);
    return false;
}

LH_HIDDEN bool lh_live_remove(uintptr_t address, struct lh_live_entry *removed)
{
    /* 0 marks an empty slot: free(NULL) would "find" one and shift the cluster after it out of place. */
    if (address == 0)
        return false;
    uint64_t hash = address_hash(address);
    struct shard *s = shard_of(hash);
    bool found = false;
    pthread_mutex_lock(&s->lock);
    uint64_t i = probe(s, address, hash);
    if (s->slots[i].address == address) {
        if (removed)
            *removed = s->slots[i];
        delete_slot(s, i);
        found = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (found) {
        atomic_fetch_sub_explicit(&live_entries, 1, memory_order_relaxed);
        filter_decrement(address);
    }
    return found;
}

LH_HIDDEN void lh_live_for_each(void (*visit)(const struct lh_live_entry *, void *), void *context)
{
    for (int k = 0; k < SHARD_COUNT; k++) {
        struct shard *s = &shards[k];
        pthread_mutex_lock(&s->lock);
        for (uint64_t i = 0; i <= s->mask; i++)
            if (s->slots[i].address != 0)
                visit(&s->slots[i], context);
        pthread_mutex_unlock(&s->lock);
    }
}

LH_HIDDEN void lh_live_lock_for_fork(void)
{
    pthread_mutex_lock(&thinning_lock);
    for (int k = 0; k < SHARD_COUNT; k++)
        pthread_mutex_lock(&shards[k].lock);
}

LH_HIDDEN void lh_live_unlock_after_fork(void)
{
    for (int k = SHARD_COUNT - 1; k >= 0; k--)
        pthread_mutex_unlock(&shards[k].lock);
    pthread_mutex_unlock(&thinning_lock);
}

LH_HIDDEN uint64_t lh_live_count(void)
{
    return atomic_load_explicit(&live_entries, memory_order_relaxed);
}

LH_HIDDEN uint64_t lh_live_capacity(void)
{
    return table_capacity;
}

/* A deterministic coin per entry and round: thinning must not touch the threads' sampler streams. */
static double thinning_coin(const struct lh_live_entry *e, uint64_t round)
{
    uint64_t x = address_hash(e->address) ^ (round * 0xD6E8FEB86659FD93ull) ^ e->alloc_time_ds;
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    return (double)(x >> 11) * 0x1.0p-53;
}

LH_HIDDEN void lh_live_thin(void)
{
    uint64_t round = atomic_fetch_add_explicit(&lh_counters.thinning_rounds, 1, memory_order_relaxed) + 1;
    /* New samples switch over first, so nothing drawn after this point is weighted at the old interval. */
    uint32_t next = lh_sampler_double_interval();
    uint64_t thinned = 0;
    for (int k = 0; k < SHARD_COUNT; k++) {
        struct shard *s = &shards[k];
        pthread_mutex_lock(&s->lock);
        uint64_t i = 0;
        while (i <= s->mask) {
            struct lh_live_entry *e = &s->slots[i];
            if (e->address == 0 || e->generation >= next) {
                i++;
                continue;
            }
            double keep = lh_sample_probability(e->size, next) / lh_sample_probability(e->size, e->generation);
            if (thinning_coin(e, round) < keep) {
                e->generation = next;
                i++;
                continue;
            }
            uintptr_t address = e->address;
            /* Backward shift may pull a not-yet-visited entry into slot i: look at i again. */
            delete_slot(s, i);
            atomic_fetch_sub_explicit(&live_entries, 1, memory_order_relaxed);
            filter_decrement(address);
            thinned++;
        }
        pthread_mutex_unlock(&s->lock);
    }
    atomic_fetch_add_explicit(&lh_counters.thinned_entries, thinned, memory_order_relaxed);
}

/* A new attached run in the same process (attach.c): frees went unwatched while the shim was detached, so every
 * entry is forgotten, with its filter count. Walks the shards under their locks, touching only used slots' pages. */
LH_HIDDEN void lh_live_clear(void)
{
    pthread_mutex_lock(&thinning_lock);
    for (int i = 0; i < SHARD_COUNT; i++) {
        struct shard *s = &shards[i];
        pthread_mutex_lock(&s->lock);
        for (uint64_t j = 0; s->slots && s->used > 0 && j <= s->mask; j++) {
            if (s->slots[j].address == 0)
                continue;
            filter_decrement(s->slots[j].address);
            s->slots[j].address = 0;
            s->used--;
            atomic_fetch_sub_explicit(&live_entries, 1, memory_order_relaxed);
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&thinning_lock);
}
