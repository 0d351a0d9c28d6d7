/* The two OS services every part of the shim uses: its own memory, and the clock. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <time.h>

#include "shim.h"

LH_HIDDEN struct lh_counters lh_counters;
LH_HIDDEN uint64_t lh_start_monotonic_ns;
LH_HIDDEN uint64_t lh_start_realtime_ns;

LH_HIDDEN void *lh_map_memory(size_t bytes)
{
    /* NORESERVE + demand paging: the stated worst case is virtual; RSS follows what is really used. */
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    atomic_fetch_add_explicit(&lh_counters.mapped_bytes, bytes, memory_order_relaxed);
    return p;
}

LH_HIDDEN uint64_t lh_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

LH_HIDDEN _Atomic int lh_run_state = LH_STARTING;

#include "state.h"
__thread struct lh_thread_state lh_tls __attribute__((tls_model("initial-exec")));
