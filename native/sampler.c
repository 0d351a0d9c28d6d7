/*
 * Poisson sampling in bytes.
 *
 * Picture all the bytes a thread allocates laid end to end, and sample points dropped on that line by a
 * Poisson process of rate 1/S (S = the sampling interval, mean gap between points). An allocation is
 * sampled when at least one point falls inside its s bytes, which happens with probability
 *
 *     p(s) = 1 − e^(−s/S).
 *
 * Weighting each sampled block by w = 1/p(s) makes every estimate a Horvitz–Thompson sum, unbiased:
 * E[Σ_sampled w·s] = Σ_all p(s)·(1/p(s))·s = total bytes, and likewise for counts. Small blocks (s ≪ S) are
 * sampled with p ≈ s/S and stand for ≈ S/s blocks, i.e. ≈ S bytes each; blocks much larger than S are
 * always sampled and stand for themselves.
 *
 * Implementation: each thread keeps bytes_until_sample, the distance to the next point. The unsampled path
 * subtracts s and tests the sign. When it reaches ≤ 0 a point fell inside this block: the block is sampled
 * and, the process being memoryless, the countdown is rearmed with a fresh exponential draw (the points
 * after the first one inside the same block do not matter: one sample per block, weighted by 1/p(s)).
 *
 * Hot path cost: the unsampled path is that one subtraction and sign test (interpose.c inlines it); the
 * code below runs only when the countdown crosses zero: one xorshift draw and one log() per sample.
 *
 * Edge cases:
 *  - S = 1 means "record every allocation": the gap is 0, every call takes the slow path, weight is 1.
 *  - Zero-byte requests have p = 0 and are never sampled (their weight would be infinite).
 *  - A thread's first allocation arrives with the countdown at 0 (the static empty state); the slow path
 *    seeds the thread's generator, draws its first gap and decides as if the gap had been there all along.
 *  - When the liveness table fills, S doubles (generation + 1). Entries already live are thinned by the
 *    table so that they look sampled at 2S; the weight of an entry is always computed from its size and
 *    the generation it was last (re)weighted at, see lh_sample_weight.
 *  - Gaps are drawn as −S·ln(u) with u uniform in (0, 1], never 0, so ln never sees 0.
 */
#define _GNU_SOURCE
#include "sampler.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

/* The base interval, and the interval and generation in force. Written only here: at start (configure) and
 * when the liveness table asks for a doubling. Read relaxed: a sample drawn at the old interval a moment after
 * a doubling is weighted at the generation it reads, and the table re-tosses its coin (liveness.c). */
static uint64_t base_interval = 524288;
static _Atomic uint64_t interval_in_force = 524288;
static _Atomic uint32_t generation_in_force;

LH_HIDDEN void lh_sampler_configure(uint64_t base_interval_bytes)
{
    base_interval = base_interval_bytes ? base_interval_bytes : 1;
    atomic_store_explicit(&generation_in_force, 0, memory_order_relaxed);
    atomic_store_explicit(&interval_in_force, base_interval, memory_order_relaxed);
}

LH_HIDDEN uint32_t lh_sampler_double_interval(void)
{
    uint32_t next = atomic_load_explicit(&generation_in_force, memory_order_relaxed) + 1;
    /* The generation first, so nothing drawn after this point is weighted at the old interval. */
    atomic_store_explicit(&generation_in_force, next, memory_order_relaxed);
    atomic_store_explicit(&interval_in_force, base_interval << next, memory_order_relaxed);
    return next;
}

LH_HIDDEN uint32_t lh_sampler_generation(void)
{
    return atomic_load_explicit(&generation_in_force, memory_order_relaxed);
}

LH_HIDDEN uint64_t lh_sampler_interval_bytes(void)
{
    return atomic_load_explicit(&interval_in_force, memory_order_relaxed);
}

static _Atomic uint64_t thread_counter;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t next_random(struct lh_thread_state *ts)
{
    uint64_t x = ts->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ts->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

LH_HIDDEN void lh_sampler_seed(struct lh_thread_state *ts, uint64_t seed)
{
    ts->rng = splitmix64(seed) | 1; /* xorshift must not start at 0, and 0 means "not seeded" */
}

static void seed_thread(struct lh_thread_state *ts)
{
    uint64_t index = atomic_fetch_add_explicit(&thread_counter, 1, memory_order_relaxed);
    uint64_t seed;
    if (lh_config.seed_given) {
        /* Deterministic per thread creation order, so single-threaded tests replay exactly. */
        seed = lh_config.seed ^ (index * 0xD1B54A32D192ED03ull);
    } else {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        seed = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32) ^ (uint64_t)(uintptr_t)ts ^
               ((uint64_t)gettid() << 16) ^ index;
    }
    lh_sampler_seed(ts, seed);
}

LH_HIDDEN int64_t lh_sampler_next_gap(struct lh_thread_state *ts)
{
    uint64_t interval = lh_sampler_interval_bytes();
    if (interval <= 1)
        return 0;
    double u = (double)((next_random(ts) >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
    double gap = -log(u) * (double)interval;
    if (gap < 1.0)
        return 1;
    if (gap > 0x1p62)
        return INT64_C(1) << 62;
    return (int64_t)gap;
}

LH_HIDDEN bool lh_sampler_take(struct lh_thread_state *ts, size_t size)
{
    if (LH_UNLIKELY(ts->rng == 0)) {
        seed_thread(ts);
        ts->bytes_until_sample += lh_sampler_next_gap(ts);
        if (ts->bytes_until_sample > 0)
            return false;
    }
    ts->bytes_until_sample = lh_sampler_next_gap(ts);
    return size > 0;
}

static double interval_at(uint32_t generation)
{
    return (double)base_interval * ldexp(1.0, (int)generation);
}

LH_HIDDEN double lh_sample_probability(uint64_t size, uint32_t generation)
{
    if (size == 0)
        return 0.0;
    if (generation == 0 && base_interval <= 1)
        return 1.0; /* record-everything mode: deterministic, not Poisson */
    return -expm1(-(double)size / interval_at(generation));
}

LH_HIDDEN double lh_sample_weight(uint64_t size, uint32_t generation)
{
    double p = lh_sample_probability(size, generation);
    return p > 0.0 ? 1.0 / p : 0.0;
}
