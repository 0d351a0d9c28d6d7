/*
 * All per-thread state of the shim, in one initial-exec TLS struct: 32 bytes that every thread of the target
 * carries, in the static TLS block (a larger one would make a dlopen() of the shim fail once glibc's small
 * static-TLS surplus is used up, so buffers live elsewhere: scratch.c).
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
    /* xorshift64* state of this thread's exponential gaps; 0 until the first slow-path call seeds it (the state
     * is never 0 once seeded, so it doubles as the "seeded" flag). */
    uint64_t rng;
    /* The top of the part of this thread's stack the fast unwinder may read; 0 until the thread's first sample
     * (unwind_walk.c). */
    uintptr_t stack_high;
    /* Nonzero while the thread runs the shim's own slow path, which may hold our locks: allocations and frees
     * made underneath — including from a signal handler that interrupted us — are forwarded without sampling
     * and without touching the tables. A nesting count: a few deep at most. */
    uint16_t busy;
    /* Nonzero on the shim's own threads (for good) and inside JVMTI callbacks: their allocations are ours,
     * not the target's, so they are not sampled — but their frees still update the table, since they hold
     * none of our locks and a block freed there must not stay "live". */
    uint16_t quiet;
    /* How many 4 KiB pages below stack_high were checked mapped (with mincore) for the fast unwinder: its reads
     * stay in [stack_high - 4096 × stack_pages, stack_high); a deeper stack extends the check (up to 256 MiB). */
    uint16_t stack_pages;
    /* The scratch slot this thread sampled into last, tried first next time (scratch.c). */
    uint8_t scratch_slot;
    /* Failed checks of the stack bounds; past a few, the thread's stacks are left to libgcc. */
    uint8_t stack_checks_failed;
};

_Static_assert(sizeof(struct lh_thread_state) == 32, "every thread of the target carries this in static TLS");

extern __thread struct lh_thread_state lh_tls __attribute__((tls_model("initial-exec")));

#endif
