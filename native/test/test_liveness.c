/* The liveness table: insert/remove against a reference, the filter, capacity, unbiased thinning, threads. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "../liveness.h"
#include "../sampler.h"
#include "harness.h"

#define CAPACITY 4096

static void setup(uint64_t interval)
{
    static bool initialised;
    lh_config.sample_interval_bytes = interval;
    lh_sampler_configure(interval);
    if (!initialised) {
        CHECK(lh_live_init(CAPACITY), "init");
        initialised = true;
    }
}

struct collect {
    uintptr_t *addresses;
    int *count;
};

static void collect_address(const struct lh_live_entry *e, void *context)
{
    struct collect *c = context;
    c->addresses[(*c->count)++] = e->address;
}

static void add_upscaled_bytes(const struct lh_live_entry *e, void *context)
{
    *(double *)context += (double)e->size * lh_sample_weight(e->size, e->generation);
}

static void clear_table(void)
{
    /* Remove whatever a previous test left. */
    uintptr_t addresses[CAPACITY + 16];
    int n = 0;
    struct collect c = {addresses, &n};
    lh_live_for_each(collect_address, &c);
    for (int i = 0; i < n; i++)
        lh_live_remove(addresses[i], NULL);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void matches_a_reference_under_random_operations(void)
{
    setup(1);
    clear_table();
    enum { SLOTS = 3000 };
    static uintptr_t live[SLOTS];
    memset(live, 0, sizeof live);
    uint64_t seed = 0x1234567;
    int mismatches = 0;
    for (int step = 0; step < 300000; step++) {
        int k = (int)(xorshift(&seed) % SLOTS);
        if (live[k]) {
            struct lh_live_entry removed;
            if (!lh_live_remove(live[k], &removed) || removed.stack_id != (uint32_t)k || removed.size != 16u * (uint64_t)k + 1)
                mismatches++;
            live[k] = 0;
        } else {
            /* Addresses 16-aligned and clustered, like a real heap. */
            live[k] = 0x7f0000000000u + ((xorshift(&seed) % 100000) + (uint64_t)k * 100000) * 16;
            if (!lh_live_insert(live[k], 16u * (uint64_t)k + 1, 16u * (uint64_t)k + 1, (uint32_t)k, 0))
                mismatches++;
        }
    }
    int live_count = 0;
    for (int k = 0; k < SLOTS; k++) {
        if (!live[k])
            continue;
        live_count++;
        if (!lh_live_maybe_sampled((void *)live[k]))
            mismatches++;
    }
    CHECK(mismatches == 0, "%d mismatches", mismatches);
    CHECK(lh_live_count() == (uint64_t)live_count, "count %llu vs %d", (unsigned long long)lh_live_count(), live_count);
    CHECK(!lh_live_remove(0x1000, NULL), "an unknown address is not found");
}

static void the_filter_rejects_most_unsampled_frees(void)
{
    setup(1);
    clear_table();
    for (uintptr_t i = 0; i < 1000; i++)
        lh_live_insert(0x600000000000u + i * 4096, 100, 100, 1, 0);
    int positives = 0;
    for (uintptr_t i = 0; i < 100000; i++)
        positives += lh_live_maybe_sampled((void *)(0x500000000000u + i * 48));
    /* 1000 live entries, 8 counters per entry of capacity at most (4096 × 8 here): about 3% false positives. */
    unsigned bits = (unsigned)((uintptr_t)atomic_load(&lh_filter_word) & 63);
    CHECK(bits == 15, "%u index bits for 1000 entries", bits);
    CHECK(positives < 4500, "%d of 100000 unsampled pointers pass the filter", positives);
}

static unsigned filter_bits(void)
{
    return (unsigned)((uintptr_t)atomic_load(&lh_filter_word) & 63);
}

/* Pins made before the table exists (the bootstrap allocations dlsym makes) survive the switch to the mapped
 * filter and every growth of it; it grows with the live entries (32 counters each, estimated from the inserting
 * shard's count: at least 16 each once the shards hold a few, a power of two) up to 8 per entry of capacity; every
 * live entry stays visible through every switch. */
static void the_filter_grows_with_the_table_and_keeps_pins(void)
{
    static char early[64];
    lh_filter_pin(early + 16);
    CHECK(lh_live_maybe_sampled(early + 16), "pinned in the static filter");
    setup(1);
    clear_table();
    CHECK(lh_live_maybe_sampled(early + 16), "still pinned in the mapped filter");
    CHECK(filter_bits() == 12, "%u index bits for an empty table", filter_bits());
    lh_filter_pin(early + 32);
    uint64_t seed = 5;
    static uintptr_t live[CAPACITY];
    int n = 0, unseen = 0;
    for (; n < CAPACITY; n++) {
        live[n] = 0x7e0000000000u + (xorshift(&seed) % (1u << 30)) * 16;
        if (!lh_live_insert(live[n], 64, 64, 1, 0))
            break;
        if (n % 97 == 0)
            for (int k = 0; k <= n; k += 7)
                unseen += !lh_live_maybe_sampled((void *)live[k]);
        uint64_t per_entry = lh_live_count() < 16 * 16 ? 8 : 16; /* a shard's count estimates the table's */
        uint64_t wanted = per_entry * lh_live_count() < 8 * CAPACITY ? per_entry * lh_live_count() : 8 * CAPACITY;
        CHECK((UINT64_C(1) << filter_bits()) >= wanted, "%u counters for %llu entries", 1u << filter_bits(),
              (unsigned long long)lh_live_count());
    }
    CHECK(unseen == 0, "%d live entries invisible to the filter while it grew", unseen);
    CHECK(filter_bits() == 15, "%u index bits at capacity %d", filter_bits(), CAPACITY);
    CHECK(lh_live_maybe_sampled(early + 16) && lh_live_maybe_sampled(early + 32), "pins survive growth");
    clear_table();
}

static void a_full_table_thins_and_stays_unbiased(void)
{
    setup(1024);
    clear_table();
    /* Many small live blocks, each sampled with p(s) at 1024: far more samples than the capacity. */
    double true_bytes = 0;
    uint64_t seed = 99;
    struct lh_thread_state t = {0};
    lh_sampler_seed(&t, 7);
    for (uint64_t i = 0; i < 400000; i++) {
        size_t size = 64 + xorshift(&seed) % 2000;
        true_bytes += (double)size;
        t.bytes_until_sample -= (int64_t)size;
        if (t.bytes_until_sample <= 0 && lh_sampler_take(&t, size))
            lh_live_insert(0x100000000000u + i * 4096, size, size, 1, 0);
    }
    CHECK(lh_live_count() <= CAPACITY, "bounded: %llu", (unsigned long long)lh_live_count());
    CHECK(lh_sampler_generation() >= 3, "interval doubled (generation %u)", lh_sampler_generation());
    CHECK(LH_COUNTER_TOTAL(thinned_entries) > 0, "thinning counted");
    double estimate = 0;
    lh_live_for_each(add_upscaled_bytes, &estimate);
    CHECK(fabs(estimate / true_bytes - 1) < 0.10, "estimate/true after thinning = %.4f", estimate / true_bytes);
}

struct worker_args {
    int index;
    int errors;
};

static void *worker(void *argument)
{
    struct worker_args *w = argument;
    uintptr_t base = 0x200000000000u + (uintptr_t)w->index * 0x10000000u;
    for (int round = 0; round < 200; round++) {
        for (uintptr_t i = 0; i < 8; i++)
            if (!lh_live_insert(base + i * 64, 32, 32, (uint32_t)w->index, 0))
                w->errors++;
        for (uintptr_t i = 0; i < 8; i++)
            if (!lh_live_remove(base + i * 64, NULL))
                w->errors++;
    }
    return NULL;
}

static void concurrent_threads_keep_it_consistent(void)
{
    setup(1);
    clear_table();
    enum { THREADS = 64 };
    pthread_t threads[THREADS];
    struct worker_args args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct worker_args){i, 0};
        pthread_create(&threads[i], NULL, worker, &args[i]);
    }
    int errors = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        errors += args[i].errors;
    }
    CHECK(errors == 0, "%d lost inserts/removes", errors);
    CHECK(lh_live_count() == 0, "empty afterwards: %llu", (unsigned long long)lh_live_count());
}

static uint64_t scanned_entries;

static void count_entry(const struct lh_live_entry *e, void *context)
{
    (void)e, (void)context;
    scanned_entries++;
}

static void removing_null_changes_nothing(void)
{
    /* free(NULL) reaches the table whenever address 0's filter bucket is busy. */
    setup(1);
    clear_table();
    for (uintptr_t i = 1; i <= 500; i++)
        lh_live_insert(i * 16, 32, 32, 1, 0);
    for (int i = 0; i < 100; i++)
        CHECK(!lh_live_remove(0, NULL), "address 0 is never found");
    scanned_entries = 0;
    lh_live_for_each(count_entry, NULL);
    CHECK(lh_live_count() == 500 && scanned_entries == 500, "count %llu, scanned %llu",
          (unsigned long long)lh_live_count(), (unsigned long long)scanned_entries);
    int missing = 0;
    for (uintptr_t i = 1; i <= 500; i++)
        missing += !lh_live_remove(i * 16, NULL);
    CHECK(missing == 0, "%d entries lost their place", missing);
}

int main(void)
{
    RUN(the_filter_grows_with_the_table_and_keeps_pins);
    RUN(removing_null_changes_nothing);
    RUN(matches_a_reference_under_random_operations);
    RUN(the_filter_rejects_most_unsampled_frees);
    RUN(concurrent_threads_keep_it_consistent);
    RUN(a_full_table_thins_and_stays_unbiased);
    return HARNESS_SUMMARY();
}
