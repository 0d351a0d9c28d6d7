/* Statistical tests of the Poisson sampler: gap distribution, inclusion probability, unbiased totals. */
#include <math.h>
#include <string.h>

#include "../sampler.h"
#include "harness.h"

static struct lh_thread_state thread;

static void use_interval(uint64_t bytes)
{
    lh_config.sample_interval_bytes = bytes;
    lh_sampler_configure(bytes);
    memset(&thread, 0, sizeof thread);
    lh_sampler_seed(&thread, 12345);
}

/* Feeds `count` allocations of `size` through the same logic as the shim's fast+slow path. */
static uint64_t sampled_count(size_t size, uint64_t count)
{
    uint64_t sampled = 0;
    for (uint64_t i = 0; i < count; i++) {
        thread.bytes_until_sample -= (int64_t)size;
        if (thread.bytes_until_sample <= 0 && lh_sampler_take(&thread, size))
            sampled++;
    }
    return sampled;
}

static void gaps_are_exponential_with_the_configured_mean(void)
{
    use_interval(524288);
    const int n = 200000;
    double sum = 0, sum_sq = 0;
    int below_median = 0;
    for (int i = 0; i < n; i++) {
        double g = (double)lh_sampler_next_gap(&thread);
        sum += g;
        sum_sq += g * g;
        below_median += g < 524288 * log(2.0);
    }
    double mean = sum / n, sd = sqrt(sum_sq / n - mean * mean);
    CHECK(fabs(mean / 524288 - 1) < 0.01, "mean gap %.0f", mean);
    CHECK(fabs(sd / 524288 - 1) < 0.02, "sd %.0f (exponential: sd = mean)", sd);
    CHECK(fabs(below_median / (double)n - 0.5) < 0.005, "median fraction %.4f", below_median / (double)n);
}

static void inclusion_probability_matches_one_minus_exp(void)
{
    const size_t sizes[] = {16, 1000, 65536, 524288, 4 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        use_interval(524288);
        uint64_t n = sizes[k] < 65536 ? 4000000 : 200000;
        double expected = -expm1(-(double)sizes[k] / 524288.0);
        double observed = (double)sampled_count(sizes[k], n) / (double)n;
        double sigma = sqrt(expected * (1 - expected) / (double)n) + 1e-9;
        CHECK(fabs(observed - expected) < 5 * sigma, "size %zu: observed %.6f expected %.6f", sizes[k], observed,
              expected);
    }
}

static void weighted_totals_are_unbiased(void)
{
    /* A mix of sizes: the upscaled sum of sampled bytes must estimate the true total within a few %. */
    use_interval(65536);
    double true_bytes = 0, estimate = 0;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 2000000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t size = (x % 100) < 90 ? 16 + x % 512 : 4096 + x % 200000;
        true_bytes += (double)size;
        thread.bytes_until_sample -= (int64_t)size;
        if (thread.bytes_until_sample <= 0 && lh_sampler_take(&thread, size))
            estimate += (double)size * lh_sample_weight(size, 0);
    }
    CHECK(fabs(estimate / true_bytes - 1) < 0.03, "estimate/true = %.4f", estimate / true_bytes);
}

static void interval_one_records_every_allocation(void)
{
    use_interval(1);
    CHECK(sampled_count(1, 1000) == 1000, "every 1-byte allocation sampled");
    CHECK(sampled_count(12345, 1000) == 1000, "every allocation sampled");
    CHECK(lh_sample_weight(1, 0) == 1.0, "weight 1");
    CHECK(sampled_count(0, 100) == 0, "zero-byte requests are never sampled");
}

static void weight_is_inverse_probability(void)
{
    use_interval(524288);
    CHECK(fabs(lh_sample_weight(524288, 0) - 1 / (1 - exp(-1.0))) < 1e-9, "s = S");
    CHECK(fabs(lh_sample_weight(16, 0) * 16 / 524288 - 1) < 1e-4, "small blocks stand for about S bytes");
    CHECK(lh_sample_weight(100 << 20, 0) < 1.0000001, "huge blocks stand for themselves");
    CHECK(fabs(lh_sample_weight(1000, 1) - 1 / -expm1(-1000.0 / (2 * 524288))) < 1e-9, "generation doubles S");
}

static void seeded_streams_replay(void)
{
    use_interval(4096);
    int64_t first[8], second[8];
    for (int i = 0; i < 8; i++)
        first[i] = lh_sampler_next_gap(&thread);
    lh_sampler_seed(&thread, 12345);
    for (int i = 0; i < 8; i++)
        second[i] = lh_sampler_next_gap(&thread);
    CHECK(memcmp(first, second, sizeof first) == 0, "same seed, same gaps");
}

int main(void)
{
    RUN(gaps_are_exponential_with_the_configured_mean);
    RUN(inclusion_probability_matches_one_minus_exp);
    RUN(weighted_totals_are_unbiased);
    RUN(interval_one_records_every_allocation);
    RUN(weight_is_inverse_probability);
    RUN(seeded_streams_replay);
    return HARNESS_SUMMARY();
}
