/*
 * Frame buffers for sampled allocations, off the target's thread stacks.
 *
 * A sample needs room for max_stack_depth native pcs and as many Java frames: 24 bytes a frame, 6 KiB at depth
 * 256. As variable-length arrays on the allocating thread's own stack — with AsyncGetCallTrace's buffer, 10 KiB —
 * they could overflow a small thread stack (a 16 KiB pthread stack, a coroutine's) under a malloc the program
 * made safely. Per-thread state cannot hold them either: the shim's TLS is initial-exec, a block every thread of
 * the target carries, and one larger than glibc's small static-TLS surplus makes a dlopen() of the shim fail. So a
 * fixed pool of slots in the shim's own mapped memory, each claimed by one sampling thread at a time.
 *
 * Cost on the sampled path only: one load and one atomic exchange on the slot this thread used last (its index
 * kept in a byte of lh_thread_state, so TLS stays 32 bytes), one store to release. Only when every
 * slot is taken — LH_SCRATCH_SLOTS threads between capture and intern at once — does a thread yield and look again.
 */
#define _GNU_SOURCE
#include "scratch.h"

#include <sched.h>
#include <stddef.h>

struct slot {
    _Atomic uint32_t taken;
    uint32_t reserved;
    struct lh_sample_scratch frames;
    char pad[64 - 8 - sizeof(struct lh_sample_scratch)]; /* frames start on their own cache line */
};
_Static_assert(sizeof(struct slot) == 64, "a slot's header is one cache line");

/* Sweeps over every slot before a sample gives up (each after a sched_yield): far longer than any capture. */
#define PATIENCE_SWEEPS 10000

static char *slots;
static uint64_t slot_bytes;

static struct slot *slot_at(uint32_t index)
{
    return (struct slot *)(slots + (uint64_t)index * slot_bytes);
}

LH_HIDDEN bool lh_scratch_init(uint32_t max_depth)
{
    slot_bytes = sizeof(struct slot) + (uint64_t)max_depth * (sizeof(uintptr_t) + sizeof(struct lh_java_frame));
    slot_bytes = (slot_bytes + 63) & ~(uint64_t)63;
    slots = lh_map_memory(LH_SCRATCH_SLOTS * slot_bytes);
    if (!slots)
        return false;
    for (uint32_t i = 0; i < LH_SCRATCH_SLOTS; i++) {
        struct slot *s = slot_at(i);
        s->frames.pcs = (uintptr_t *)(s + 1);
        s->frames.java = (struct lh_java_frame *)(s->frames.pcs + max_depth);
    }
    return true;
}

LH_HIDDEN struct lh_sample_scratch *lh_scratch_claim(struct lh_thread_state *ts)
{
    for (int sweep = 0; sweep < PATIENCE_SWEEPS; sweep++) {
        for (uint32_t k = 0; k < LH_SCRATCH_SLOTS; k++) {
            uint32_t index = (ts->scratch_slot + k) % LH_SCRATCH_SLOTS;
            struct slot *s = slot_at(index);
            if (atomic_load_explicit(&s->taken, memory_order_relaxed) == 0 &&
                atomic_exchange_explicit(&s->taken, 1, memory_order_acquire) == 0) {
                ts->scratch_slot = (uint8_t)index;
                return &s->frames;
            }
        }
        sched_yield();
    }
    return NULL;
}

LH_HIDDEN void lh_scratch_release(struct lh_sample_scratch *scratch)
{
    struct slot *s = (struct slot *)((char *)scratch - offsetof(struct slot, frames));
    atomic_store_explicit(&s->taken, 0, memory_order_release);
}
