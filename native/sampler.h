#ifndef LEAKHUNT_SAMPLER_H
#define LEAKHUNT_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"
#include "state.h"

/* Sets the base interval (generation 0): the constructor, once, from LEAKHUNT_SAMPLE_BYTES; tests. */
LH_HIDDEN void lh_sampler_configure(uint64_t base_interval_bytes);

/* Doubles the interval in force and returns the new generation. The sampler owns the interval: only the
 * liveness table calls this, when it is full and about to thin its entries to the new interval. */
LH_HIDDEN uint32_t lh_sampler_double_interval(void);

/* How many times the interval doubled (0 at start). Stored with each live entry to recover its weight. */
LH_HIDDEN uint32_t lh_sampler_generation(void);

/* The mean gap in force: the base interval, doubled once per generation. */
LH_HIDDEN uint64_t lh_sampler_interval_bytes(void);

/* Slow path of every allocation whose size took bytes_until_sample to zero or below. Returns whether this
 * allocation is sampled, and rearms the countdown. */
LH_HIDDEN bool lh_sampler_take(struct lh_thread_state *ts, size_t size);

/* The number of blocks a sampled block of `size` bytes stands for, at interval base << generation. */
LH_HIDDEN double lh_sample_weight(uint64_t size, uint32_t generation);

/* The probability a block of `size` bytes is sampled at interval base << generation. */
LH_HIDDEN double lh_sample_probability(uint64_t size, uint32_t generation);

/* Seeds a thread's stream; exposed for tests. */
LH_HIDDEN void lh_sampler_seed(struct lh_thread_state *ts, uint64_t seed);

/* Draws the next exponential gap of mean lh_sampler_interval_bytes() (0 when recording everything). */
LH_HIDDEN int64_t lh_sampler_next_gap(struct lh_thread_state *ts);

#endif
