/* The stack table: interning without a lock on known stacks, from many threads at once, against a reference; a
 * stack's kind is part of its identity. And the counters the samples add to, from many threads. */
#include <pthread.h>
#include <string.h>

#include "../stacks.h"
#include "harness.h"

#define MAX_STACKS 4096
#define DISTINCT 1500
#define THREADS 8
#define ROUNDS 20000

/* Stack k: depth 1..40 from k, frames derived from k; every 7th has Java frames too. Stacks k and k + 1 of odd k
 * have the same frames, and differ only in kind. */
static enum lh_stack_kind kind_of(int k)
{
    return k % 2 ? LH_KIND_MMAP_ANON : LH_KIND_MALLOC;
}

static int make_stack(int k, uintptr_t *pcs, struct lh_java_frame *java, int *java_depth)
{
    int frames_of = k & ~1;
    int depth = 1 + frames_of % 40;
    for (int i = 0; i < depth; i++)
        pcs[i] = 0x400000u + (uintptr_t)frames_of * 4096u + (uintptr_t)i * 16u;
    *java_depth = frames_of % 7 == 0 ? 1 + frames_of % 5 : 0;
    for (int i = 0; i < *java_depth; i++)
        java[i] = (struct lh_java_frame){0x7f0000000000ull + (uint64_t)frames_of * 64 + (uint64_t)i, i * 3 - 1, 0};
    return depth;
}

static _Atomic uint32_t ids[DISTINCT];
static _Atomic int id_conflicts;

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void *intern_many(void *argument)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull * (uintptr_t)argument + 1;
    uintptr_t pcs[64];
    struct lh_java_frame java[8];
    for (int r = 0; r < ROUNDS; r++) {
        int k = (int)(xorshift(&seed) % DISTINCT), java_depth;
        int depth = make_stack(k, pcs, java, &java_depth);
        uint32_t id = lh_stacks_intern(pcs, depth, java, java_depth, kind_of(k), 100, 2.0);
        uint32_t expected = 0;
        if (!atomic_compare_exchange_strong(&ids[k], &expected, id) && expected != id)
            atomic_fetch_add(&id_conflicts, 1);
    }
    return NULL;
}

static void concurrent_interns_agree(void)
{
    lh_config.unwinder = LH_UNWINDER_LIBGCC;
    CHECK(lh_stacks_init(MAX_STACKS, 64), "init");
    pthread_t threads[THREADS];
    for (uintptr_t t = 0; t < THREADS; t++)
        pthread_create(&threads[t], NULL, intern_many, (void *)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    CHECK(atomic_load(&id_conflicts) == 0, "%d times a stack got two ids", atomic_load(&id_conflicts));
    uint32_t count = lh_stacks_count();
    int seen = 0;
    uint64_t samples = 0;
    double bytes = 0;
    static bool used[MAX_STACKS];
    for (int k = 0; k < DISTINCT; k++) {
        uint32_t id = atomic_load(&ids[k]);
        if (id == 0)
            continue;
        seen++;
        CHECK(id < count, "stack %d: id %u beyond the count %u", k, id, count);
        CHECK(!used[id], "id %u given to two stacks", id);
        used[id] = true;
        uintptr_t pcs[64], expected[64];
        struct lh_java_frame java[8], expected_java[8];
        int java_depth, expected_java_depth;
        struct lh_stack_stats stats;
        int depth = lh_stacks_get(id, pcs, java, &java_depth, &stats);
        int expected_depth = make_stack(k, expected, expected_java, &expected_java_depth);
        CHECK(depth == expected_depth && memcmp(pcs, expected, (size_t)depth * sizeof *pcs) == 0, "stack %d frames", k);
        CHECK(java_depth == expected_java_depth, "stack %d Java depth", k);
        CHECK(lh_stacks_kind(id) == kind_of(k), "stack %d kind", k);
        for (int i = 0; i < java_depth && i < expected_java_depth; i++)
            CHECK(java[i].method_id == expected_java[i].method_id && java[i].bci == expected_java[i].bci, "stack %d Java frame %d", k, i);
        samples += stats.alloc_samples;
        bytes += stats.alloc_bytes;
    }
    CHECK(count == (uint32_t)seen + 1, "count %u, %d distinct stacks + the overflow stack", count, seen);
    CHECK(samples == (uint64_t)THREADS * ROUNDS, "%llu samples counted", (unsigned long long)samples);
    CHECK(bytes == 200.0 * THREADS * ROUNDS, "%.0f bytes counted", bytes);
}

/* Past the capacity every new stack goes to the overflow stack, counted as a drop; known ones keep their ids. */
static void a_full_table_overflows(void)
{
    uint32_t before = lh_stacks_count();
    uint64_t drops_before = LH_COUNTER_TOTAL(stack_drops);
    uintptr_t pcs[4];
    for (uint32_t k = 0; k < MAX_STACKS + 100; k++) {
        pcs[0] = 0x900000u + k, pcs[1] = 7;
        lh_stacks_intern(pcs, 2, NULL, 0, LH_KIND_MALLOC, 1, 1.0);
    }
    CHECK(lh_stacks_count() == MAX_STACKS, "count %u after filling (was %u)", lh_stacks_count(), before);
    uint64_t drops = LH_COUNTER_TOTAL(stack_drops) - drops_before;
    CHECK(drops == MAX_STACKS + 100 - (MAX_STACKS - before), "%llu drops", (unsigned long long)drops);
    pcs[0] = 0x900000u, pcs[1] = 7;
    CHECK(lh_stacks_intern(pcs, 2, NULL, 0, LH_KIND_MALLOC, 1, 1.0) != LH_OVERFLOW_STACK, "a known stack keeps its id");
}

/* An attach again starts its counts from zero; the stacks, their ids and frames stay, and count on from there. */
static void a_reset_keeps_stacks_and_zeroes_counts(void)
{
    uint32_t count = lh_stacks_count();
    uintptr_t pcs[2] = {0x900000u, 7};
    uint32_t id = lh_stacks_intern(pcs, 2, NULL, 0, LH_KIND_MALLOC, 1, 1.0);
    lh_stacks_reset_counts();
    CHECK(lh_stacks_count() == count, "count %u after the reset (was %u)", lh_stacks_count(), count);
    for (uint32_t k = 0; k < count; k++) {
        struct lh_stack_stats stats;
        lh_stacks_get(k, NULL, NULL, NULL, &stats);
        CHECK(stats.alloc_samples == 0 && stats.alloc_objects == 0 && stats.alloc_bytes == 0, "stack %u still counts", k);
    }
    CHECK(lh_stacks_intern(pcs, 2, NULL, 0, LH_KIND_MALLOC, 40, 3.0) == id, "the stack keeps its id");
    struct lh_stack_stats stats;
    uintptr_t frames[2];
    CHECK(lh_stacks_get(id, frames, NULL, NULL, &stats) == 2 && frames[0] == pcs[0] && frames[1] == pcs[1], "and its frames");
    CHECK(stats.alloc_samples == 1 && stats.alloc_objects == 3.0 && stats.alloc_bytes == 120.0, "counts from the reset on");
}

static void *count_a_thousand(void *unused)
{
    (void)unused;
    for (int i = 0; i < 1000; i++)
        LH_COUNT(samples, 1);
    LH_COUNT(mapped_bytes, 4096);
    return NULL;
}

/* Counters added from many threads at once go to their threads' copies and sum to the whole; a reset for the next
 * run zeroes every copy, but keeps the shim's memory. */
static void counters_from_many_threads_add_up(void)
{
    uint64_t samples = LH_COUNTER_TOTAL(samples), mapped = LH_COUNTER_TOTAL(mapped_bytes);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&threads[t], NULL, count_a_thousand, NULL);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    CHECK(LH_COUNTER_TOTAL(samples) == samples + THREADS * 1000, "%llu samples counted",
          (unsigned long long)(LH_COUNTER_TOTAL(samples) - samples));
    int copies = 0;
    for (int k = 0; k < LH_COUNTER_STRIPES; k++)
        copies += atomic_load(&lh_counter_stripes[k].counters.samples) != 0;
    CHECK(copies > 1, "%d threads counted into %d copy", THREADS, copies);
    lh_counters_reset_run();
    CHECK(LH_COUNTER_TOTAL(samples) == 0, "samples after a reset");
    CHECK(LH_COUNTER_TOTAL(mapped_bytes) == mapped + THREADS * 4096, "the shim's memory kept through a reset");
}

int main(void)
{
    RUN(concurrent_interns_agree);
    RUN(a_full_table_overflows);
    RUN(a_reset_keeps_stacks_and_zeroes_counts);
    RUN(counters_from_many_threads_add_up);
    return HARNESS_SUMMARY();
}
