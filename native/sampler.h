#ifndef LEAKHUNT_SAMPLER_H
#define LEAKHUNT_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"
#include "state.h"

/* The mean gap in force: the configured interval, doubled each time the liveness table thinned. */
extern LH_HIDDEN _Atomic uint64_t lh_sample_interval_bytes;
/* How many times the interval doubled (0 at start). Stored with each live entry to recover its weight. */
extern LH_HIDDEN _Atomic uint32_t lh_sample_generation;

/* Slow path of every allocation whose size took bytes_until_sample to zero or below. Returns whether this
 * allocation is sampled, and rearms the countdown. */
LH_HIDDEN bool lh_sampler_take(struct lh_thread_state *ts, size_t size);

/* The number of blocks a sampled block of `size` bytes stands for, at interval base << generation. */
LH_HIDDEN double lh_sample_weight(uint64_t size, uint32_t generation);

/* The probability a block of `size` bytes is sampled at interval base << generation. */
LH_HIDDEN double lh_sample_probability(uint64_t size, uint32_t generation);

/* Seeds a thread's stream; exposed for tests. */
LH_HIDDEN void lh_sampler_seed(struct lh_thread_state *ts, uint64_t seed);

/* Draws the next exponential gap of mean lh_sample_interval_bytes (0 when recording everything). */
LH_HIDDEN int64_t lh_sampler_next_gap(struct lh_thread_state *ts);

#endif
