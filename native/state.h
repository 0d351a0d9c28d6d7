/*
 * All per-thread state of the shim, in one initial-exec TLS struct.
 *
 * It starts as all zeroes (a static "empty" state), which the fast path handles without an init branch:
 * bytes_until_sample == 0 sends the thread's first allocation to the slow path, which seeds the sampler.
 */
#ifndef LEAKHUNT_STATE_H
#define LEAKHUNT_STATE_H

#include <stdint.h>

#include "shim.h"

struct lh_thread_state {
    /* Bytes this thread may still allocate before the next sample point. The unsampled path subtracts the
     * request size and tests the sign: that is its whole cost. */
    int64_t bytes_until_sample;
    /* Nonzero while the thread runs the shim's own slow path, which may hold our locks: allocations and frees
     * made underneath — including from a signal handler that interrupted us — are forwarded without sampling
     * and without touching the tables. */
    uint32_t busy;
    /* Nonzero on the shim's own threads (for good) and inside JVMTI callbacks: their allocations are ours,
     * not the target's, so they are not sampled — but their frees still update the table, since they hold
     * none of our locks and a block freed there must not stay "live". */
    uint32_t quiet;
    /* Set once the sampler's random stream is seeded; the first slow-path call seeds it. */
    uint32_t seeded;
    /* xorshift64* state of this thread's exponential gaps. */
    uint64_t rng;
    /* The part of this thread's stack the fast unwinder may read, [stack_low, stack_high): checked once with
     * mincore and extended when the stack goes deeper (unwind_walk.c); 0 until the thread's first sample. */
    uintptr_t stack_low;
    uintptr_t stack_high;
    /* Failed checks of the stack bounds; past a few, the thread's stacks are left to libgcc. */
    uint32_t stack_checks_failed;
};

extern __thread struct lh_thread_state lh_tls __attribute__((tls_model("initial-exec")));

#endif
