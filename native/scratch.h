#ifndef LEAKHUNT_SCRATCH_H
#define LEAKHUNT_SCRATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"
#include "stacks.h"
#include "state.h"

/* The frames of one sampled allocation while it is captured and interned: max_stack_depth of each kind. */
struct lh_sample_scratch {
    uintptr_t *pcs;
    struct lh_java_frame *java;
};

/* How many sampled allocations can be between capture and intern at once; more threads wait their turn. */
#define LH_SCRATCH_SLOTS 64

/* Maps the slots for frames of up to `max_depth`. Worst-case memory, stated: LH_SCRATCH_SLOTS × (64 + 24 ×
 * max_depth) bytes — 100 KiB at the default depth 64, 388 KiB at 256 — resident only for slots in use. */
LH_HIDDEN bool lh_scratch_init(uint32_t max_depth);

/* A free slot for the calling thread (whose busy guard is set), or NULL after waiting far longer than a sample
 * ever takes — slots lost to a thread that left the shim without returning (a longjmp out of a signal handler).
 * Give it back with lh_scratch_release. */
LH_HIDDEN struct lh_sample_scratch *lh_scratch_claim(struct lh_thread_state *ts);
LH_HIDDEN void lh_scratch_release(struct lh_sample_scratch *scratch);

#endif
