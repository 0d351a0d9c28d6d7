/*
 * The liveness table: sampled blocks that have not been freed yet, keyed by address.
 *
 * Sixteen shards, each an open-addressing table with linear probing and backward-shift deletion (no
 * tombstones, so probes stay short however long the run), guarded by its own mutex. Only sampled
 * allocations and frees that pass the address filter ever take a shard lock; everything else is decided
 * by the filter in liveness.h.
 *
 * A shard grows with what it holds: from 64 slots (2 KiB) it doubles, under its own lock, whenever it would be
 * more than half full, up to its share of the capacity. A table sized for a full capacity (4 MiB at the default)
 * spreads a few live samples over a thousand pages: each insert and remove was a cache and TLB miss, and a page
 * fault the first time (on the peer malloc benchmark at the default interval, 6% of its CPU time). Every size of a
 * shard lives in one mapping, one after the other; the slots left behind are given back to the kernel.
 *
 * Hot path cost: an unsampled free() pays only the filter in liveness.h — a multiply, a shift and a relaxed
 * one-byte load; unsampled allocations never come here. A sampled allocation's insert and a sampled block's
 * free each take one shard's mutex (16 shards: threads rarely meet) and probe a few 32-byte slots; the filter
 * counter is a CAS on one byte. An insert asks for those three lines, to write, before its stack capture
 * (lh_live_prefetch). Thinning, when the table fills, walks every shard once under its lock: rare (each round
 * halves the table) and done by one thread, the others drop their sample rather than wait.
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
#include <sys/mman.h>

#include "sampler.h"

#define SHARD_COUNT 16

struct shard {
    pthread_mutex_t lock;
    struct lh_live_entry *slots;
    uint64_t mask;
    _Atomic uint64_t used; /* changed under the lock, read without it by live_total */
    struct lh_live_entry *sizes; /* every size's slots, the smallest first: 64, 128, ... max_slots */
} __attribute__((aligned(64)));

#define FIRST_SHARD_SLOTS 64
static uint64_t max_slots; /* per shard */

static struct shard shards[SHARD_COUNT];
static uint64_t table_capacity;
static pthread_mutex_t thinning_lock = PTHREAD_MUTEX_INITIALIZER;

/* The filter until lh_live_init maps the real one (4 KiB: 2^13 counters): only the bootstrap pins go here. */
#define BOOT_FILTER_BITS 13
static _Atomic uint8_t boot_filter[1u << (BOOT_FILTER_BITS - 1)] __attribute__((aligned(64)));
LH_HIDDEN _Atomic uint8_t *_Atomic lh_filter_word = &boot_filter[BOOT_FILTER_BITS];

/* Every bootstrap pin, so the mapped filter can be given them before it replaces the static one. The bootstrap
 * buffer (interpose.c) holds at most 64 KiB in blocks of 32 bytes or more: 2048 pins. */
#define MAX_PINS 4096
static uintptr_t pins[MAX_PINS];
static int pin_count;
static atomic_flag pin_lock = ATOMIC_FLAG_INIT;

static inline uint64_t address_hash(uintptr_t address)
{
    /* Blocks are 16-byte aligned; drop the always-zero bits before mixing. */
    return ((uint64_t)address >> 4) * 0x9E3779B97F4A7C15ull;
}

static inline struct shard *shard_of(uint64_t hash)
{
    return &shards[hash >> 60];
}

static inline uint64_t used_of(const struct shard *s)
{
    return atomic_load_explicit(&s->used, memory_order_relaxed);
}

/* Caller holds the shard's lock: a plain add, published for readers without it. */
static inline void used_add(struct shard *s, int64_t delta)
{
    atomic_store_explicit(&s->used, used_of(s) + (uint64_t)delta, memory_order_relaxed);
}

/*
 * The table's entries: the shards' counts summed. There is no shared count: one was a locked add on a line the
 * other core held in every insert and remove (on two threads sampling every allocation, a fifth of a sample's cost).
 */
static uint64_t live_total(void)
{
    uint64_t total = 0;
    for (int k = 0; k < SHARD_COUNT; k++)
        total += used_of(&shards[k]);
    return total;
}

/*
 * Whether the table holds fewer than its capacity. A shard under half its share of the capacity answers for the
 * whole table without reading the other shards' counts, since the hash spreads addresses evenly over them; near the
 * capacity, the counts are summed. Each shard's own size limit (twice its share) bounds the memory whatever the
 * addresses.
 */
static bool below_capacity(const struct shard *s)
{
    if (used_of(s) * SHARD_COUNT * 2 < table_capacity)
        return true;
    return live_total() < table_capacity;
}

/* Adds `delta` (+1 or -1) to the 4-bit counter of `address` in the filter `bytes` of 2^bits counters, unless it
 * is stuck at 15 (or would go below 0). */
static void counter_add(_Atomic uint8_t *bytes, unsigned bits, uintptr_t address, int delta)
{
    uint64_t index = lh_filter_index(address, bits);
    _Atomic uint8_t *byte = &bytes[index >> 1];
    unsigned bit = (unsigned)(index & 1) << 2;
    uint8_t seen = atomic_load_explicit(byte, memory_order_relaxed);
    for (;;) {
        unsigned counter = (seen >> bit) & 15u;
        if (counter == LH_FILTER_STUCK || (delta < 0 && counter == 0))
            return;
        uint8_t next = (uint8_t)(delta > 0 ? seen + (1u << bit) : seen - (1u << bit));
        if (atomic_compare_exchange_weak_explicit(byte, &seen, next, memory_order_relaxed, memory_order_relaxed))
            return;
    }
}

/* Callers hold the shard lock of `address`: the filter is only ever replaced under every shard lock. */
static void filter_add(uintptr_t address, int delta)
{
    uintptr_t word = (uintptr_t)atomic_load_explicit(&lh_filter_word, memory_order_acquire);
    counter_add((_Atomic uint8_t *)(word & ~(uintptr_t)63), (unsigned)(word & 63), address, delta);
}

static void filter_increment(uintptr_t address)
{
    filter_add(address, +1);
}

static void filter_decrement(uintptr_t address)
{
    filter_add(address, -1);
}

/* Sets the counter of `address` to 15, for good. */
static void stick(_Atomic uint8_t *bytes, unsigned bits, uintptr_t address)
{
    uint64_t index = lh_filter_index(address, bits);
    atomic_fetch_or_explicit(&bytes[index >> 1], (uint8_t)(LH_FILTER_STUCK << ((index & 1) << 2)), memory_order_relaxed);
}

/* The bootstrap path only (dlsym's own allocations, before malloc is resolved): a spin lock is fine there. */
LH_HIDDEN void lh_filter_pin(const void *pointer)
{
    while (atomic_flag_test_and_set_explicit(&pin_lock, memory_order_acquire))
        ;
    if (pin_count < MAX_PINS)
        pins[pin_count++] = (uintptr_t)pointer;
    uintptr_t word = (uintptr_t)atomic_load_explicit(&lh_filter_word, memory_order_acquire);
    stick((_Atomic uint8_t *)(word & ~(uintptr_t)63), (unsigned)(word & 63), (uintptr_t)pointer);
    atomic_flag_clear_explicit(&pin_lock, memory_order_release);
}

/*
 * The filter grows with the table's contents: from 2^12 counters (2 KiB) it doubles whenever the live entries
 * would have fewer than LH_FILTER_COUNTERS_PER_LIVE_ENTRY counters each, up to LH_FILTER_COUNTERS_PER_ENTRY per
 * entry of capacity. A
 * small filter stays in the caches: on a JVM with a few hundred live samples, a filter sized for a full table
 * made most frees a cache miss. Every size lives in one mapping, one after the other (2 × the largest), and is
 * never unmapped or reused: a free that read the word just before a switch may still read the old filter, which
 * holds every entry that was live at the switch (a block sampled after it can only be freed after it, so by a free
 * that reads the new word). A new filter is filled from the table under every shard lock, so no insert or remove
 * is halfway meanwhile — removes change the filter under their shard lock for this reason.
 */
#define FIRST_FILTER_BITS 12
static _Atomic uint8_t *filter_region;
static unsigned filter_max_bits;

static _Atomic uint8_t *filter_of_size(unsigned bits)
{
    return filter_region + ((UINT64_C(1) << (bits - 1)) - (UINT64_C(1) << (FIRST_FILTER_BITS - 1)));
}

/* Puts the filter of 2^bits counters in place, with the pins and (caller holds every shard lock, or the table is
 * empty) every live entry. */
static void switch_filter(unsigned bits)
{
    _Atomic uint8_t *bytes = filter_of_size(bits);
    while (atomic_flag_test_and_set_explicit(&pin_lock, memory_order_acquire))
        ;
    for (int i = 0; i < pin_count; i++)
        stick(bytes, bits, pins[i]);
    for (int k = 0; k < SHARD_COUNT; k++)
        if (shards[k].slots)
            for (uint64_t i = 0; i <= shards[k].mask; i++)
                if (shards[k].slots[i].address != 0)
                    counter_add(bytes, bits, shards[k].slots[i].address, +1);
    /* Release: whoever reads the new word reads its counters. */
    atomic_store_explicit(&lh_filter_word, bytes + bits, memory_order_release);
    atomic_flag_clear_explicit(&pin_lock, memory_order_release);
}

static unsigned filter_bits(void)
{
    return (unsigned)((uintptr_t)atomic_load_explicit(&lh_filter_word, memory_order_relaxed) & 63);
}

/* Whether a table of `live` entries wants a larger filter. After an insert, `live` is estimated from the inserting
 * shard alone (its count times the number of shards): the filter's size is a matter of speed, not of correctness. */
static bool filter_too_small(uint64_t live)
{
    unsigned bits = filter_bits();
    return bits < filter_max_bits && live * LH_FILTER_COUNTERS_PER_LIVE_ENTRY > (UINT64_C(1) << bits);
}

static void grow_filter(void)
{
    for (int k = 0; k < SHARD_COUNT; k++)
        pthread_mutex_lock(&shards[k].lock);
    uint64_t live = live_total();
    if (filter_too_small(live)) { /* not grown meanwhile by another thread */
        unsigned bits = filter_bits();
        while (bits < filter_max_bits && live * LH_FILTER_COUNTERS_PER_LIVE_ENTRY > (UINT64_C(1) << bits))
            bits++;
        switch_filter(bits);
    }
    for (int k = SHARD_COUNT - 1; k >= 0; k--)
        pthread_mutex_unlock(&shards[k].lock);
}

/* Maps room for every size of the filter and puts the smallest in place of the static one. */
static bool map_filter(uint64_t capacity)
{
    filter_max_bits = FIRST_FILTER_BITS;
    while ((UINT64_C(1) << filter_max_bits) < capacity * LH_FILTER_COUNTERS_PER_ENTRY)
        filter_max_bits++;
    filter_region = lh_map_memory((size_t)((UINT64_C(1) << filter_max_bits) - (UINT64_C(1) << (FIRST_FILTER_BITS - 1))));
    if (!filter_region)
        return false;
    switch_filter(FIRST_FILTER_BITS);
    return true;
}

LH_HIDDEN bool lh_live_init(uint64_t capacity)
{
    lh_find_write_prefetch();
    if (!map_filter(capacity))
        return false;
    uint64_t per_shard = (2 * capacity + SHARD_COUNT - 1) / SHARD_COUNT;
    max_slots = FIRST_SHARD_SLOTS;
    while (max_slots < per_shard)
        max_slots <<= 1;
    /* Sizes 64 .. max_slots of each shard, one after the other: 2 × max_slots − 64 slots a shard. */
    uint64_t region_slots = 2 * max_slots - FIRST_SHARD_SLOTS;
    struct lh_live_entry *region = lh_map_memory(SHARD_COUNT * region_slots * sizeof(struct lh_live_entry));
    if (!region)
        return false;
    for (int i = 0; i < SHARD_COUNT; i++) {
        pthread_mutex_init(&shards[i].lock, NULL);
        shards[i].sizes = region + (uint64_t)i * region_slots;
        shards[i].slots = shards[i].sizes;
        shards[i].mask = FIRST_SHARD_SLOTS - 1;
        atomic_store_explicit(&shards[i].used, 0, memory_order_relaxed);
    }
    table_capacity = capacity;
    return true;
}

/* Shard-local slot index: the hash bits below the shard selector. */
static inline uint64_t home_index(uint64_t mask, uint64_t hash)
{
    return (hash >> 16) & mask;
}

static inline uint64_t home_slot(const struct shard *s, uint64_t hash)
{
    return home_index(s->mask, hash);
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
    used_add(s, -1);
}

/* Caller holds the shard lock, about to add an entry: doubles the shard's slots if it would be more than half full
 * and may grow. Returns whether it did (slot indices changed). */
static bool grow_if_half_full(struct shard *s)
{
    uint64_t slots = s->mask + 1;
    if ((used_of(s) + 1) * 2 <= slots || slots >= max_slots)
        return false;
    struct lh_live_entry *old = s->slots;
    struct lh_live_entry *grown = s->sizes + (2 * slots - FIRST_SHARD_SLOTS); /* after the sizes up to `slots` */
    /* Atomic stores: lh_live_prefetch reads both without the lock. */
    __atomic_store_n(&s->slots, grown, __ATOMIC_RELAXED);
    __atomic_store_n(&s->mask, 2 * slots - 1, __ATOMIC_RELAXED);
    for (uint64_t i = 0; i < slots; i++) {
        if (old[i].address == 0)
            continue;
        uint64_t k = probe(s, old[i].address, address_hash(old[i].address));
        grown[k] = old[i];
    }
    /* The whole pages of the old slots go back to the kernel (only whole ones: the next size begins right after). */
    uintptr_t start = ((uintptr_t)old + 4095) & ~(uintptr_t)4095, end = ((uintptr_t)(old + slots)) & ~(uintptr_t)4095;
    if (end > start)
        madvise((void *)start, end - start, MADV_DONTNEED);
    return true;
}

/*
 * Asks for the lines an insert of `address` will write — its shard, its home slot, its filter byte — so that their
 * misses overlap the stack capture that comes first. A sampled allocation is rare, so these lines are mostly cold (on
 * the peer malloc-bench, the home slot's miss was an eighth of a sample's cost). Read without the shard's lock: a slot
 * array replaced meanwhile only fetches a line for nothing, and a prefetch never faults. To write (shim.h): on two
 * threads of the peer malloc-bench (under perf, four runs each) the sampled paths fell from 3.2% of the samples to
 * 2.5% against a read prefetch; the ratio to bare moved less than its runs spread. Not before a remove: on a JVM
 * a third of the frees that pass the filter find nothing (another block shares the counter), and asking to write
 * would take the filter's line from the cores whose frees read it, for no write.
 */
LH_HIDDEN void lh_live_prefetch(uintptr_t address)
{
    uint64_t hash = address_hash(address);
    struct shard *s = shard_of(hash);
    lh_prefetch_for_write(s);
    unsigned bit;
    lh_prefetch_for_write((const void *)lh_filter_byte(address, &bit));
    struct lh_live_entry *slots = __atomic_load_n(&s->slots, __ATOMIC_RELAXED);
    uint64_t mask = __atomic_load_n(&s->mask, __ATOMIC_RELAXED);
    if (slots)
        lh_prefetch_for_write(&slots[home_index(mask, hash)]);
}

/* Inserts under the shard's lock; *shard_used is the shard's count after it. */
static bool try_insert(uintptr_t address, uint64_t size, uint64_t usable_size, uint32_t stack_id,
                       uint32_t alloc_time_ds, uint32_t generation, uint64_t *shard_used)
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
    } else if (below_capacity(s) && used_of(s) < s->mask) {
        if (grow_if_half_full(s))
            i = probe(s, address, hash);
        s->slots[i] = (struct lh_live_entry){address, size, generation, usable_size, stack_id, alloc_time_ds};
        used_add(s, +1);
        filter_increment(address);
        inserted = true;
    }
    *shard_used = used_of(s);
    pthread_mutex_unlock(&s->lock);
    return inserted;
}

LH_HIDDEN bool lh_live_insert(uintptr_t address, uint64_t size, uint64_t usable_size, uint32_t stack_id,
                              uint32_t alloc_time_ds)
{
    uint32_t generation = lh_sampler_generation();
    uint64_t shard_used;
    if (try_insert(address, size, usable_size, stack_id, alloc_time_ds, generation, &shard_used)) {
        if (LH_UNLIKELY(filter_too_small(shard_used * SHARD_COUNT)))
            grow_filter();
        return true;
    }
    /* Full: one thread thins, the others drop their sample rather than wait. */
    if (pthread_mutex_trylock(&thinning_lock) == 0) {
        if (live_total() >= table_capacity * 7 / 8)
            lh_live_thin();
        pthread_mutex_unlock(&thinning_lock);
        /* The sample was drawn at the old interval; after thinning it must survive the same coin. */
        uint32_t now = lh_sampler_generation();
        double keep = lh_sample_probability(size, now) / lh_sample_probability(size, generation);
        double coin = (double)((address_hash(address) ^ alloc_time_ds) >> 11) * 0x1.0p-53;
        if (coin >= keep) {
            LH_COUNT(thinned_entries, 1);
            return false;
        }
        if (try_insert(address, size, usable_size, stack_id, alloc_time_ds, now, &shard_used))
            return true;
    }
    LH_COUNT(table_drops, 1);
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
    if (found)
        filter_decrement(address); /* under the lock: see grow_filter */
    pthread_mutex_unlock(&s->lock);
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
    return live_total();
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
    /* The round number is the count itself, so it is kept in one copy: only this function, under thinning_lock, adds. */
    uint64_t round = atomic_fetch_add_explicit(&lh_counter_stripes[0].counters.thinning_rounds, 1, memory_order_relaxed) + 1;
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
            filter_decrement(address);
            thinned++;
        }
        pthread_mutex_unlock(&s->lock);
    }
    LH_COUNT(thinned_entries, thinned);
}

/* A new attached run in the same process (attach.c): frees went unwatched while the shim was detached, so every
 * entry is forgotten, with its filter count. Walks the shards under their locks, touching only used slots' pages. */
LH_HIDDEN void lh_live_clear(void)
{
    pthread_mutex_lock(&thinning_lock);
    for (int i = 0; i < SHARD_COUNT; i++) {
        struct shard *s = &shards[i];
        pthread_mutex_lock(&s->lock);
        for (uint64_t j = 0; s->slots && used_of(s) > 0 && j <= s->mask; j++) {
            if (s->slots[j].address == 0)
                continue;
            filter_decrement(s->slots[j].address);
            s->slots[j].address = 0;
            used_add(s, -1);
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&thinning_lock);
}
