/*
 * Start, fork and exit of the shim in a process.
 *
 * The constructor reads LEAKHUNT_* once, maps the tables and starts the writer; until it is done the
 * shim is STARTING (allocations pass through unsampled). A forked child turns the shim OFF: its copy of
 * the tables belongs to the parent's history and the parent's files are the parent's. An exec'd child is
 * a new image whose constructor sees a parent pid that is not the launcher's, and stays idle. At normal
 * exit the destructor writes the final snapshot. No signal handler is ever installed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "interpose.h"
#include "liveness.h"
#include "sampler.h"
#include "snapshot.h"
#include "stacks.h"
#include "state.h"

static void turn_off_in_child(void)
{
    atomic_store(&lh_run_state, LH_OFF);
}

static void note(const char *what)
{
    const char *prefix = "leakhunt shim: disabled: ";
    ssize_t ignored = write(2, prefix, strlen(prefix));
    ignored = write(2, what, strlen(what));
    ignored = write(2, "\n", 1);
    (void)ignored;
}

static bool start(void)
{
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    lh_start_realtime_ns = (uint64_t)real.tv_sec * 1000000000u + (uint64_t)real.tv_nsec;
    lh_start_monotonic_ns = lh_monotonic_ns();
    if (getauxval(AT_SECURE))
        return false; /* setuid/setgid: never act on an environment the invoker controls */
    if (lh_config_read() != LH_CONFIG_OK)
        return false;
    atomic_store(&lh_sample_interval_bytes, lh_config.sample_interval_bytes);
    lh_stacks_locate_self();
    if (!lh_live_init(lh_config.table_capacity) ||
        !lh_stacks_init(lh_config.max_stacks, lh_config.max_stack_depth)) {
        note("cannot map memory for its tables");
        return false;
    }
    if (pthread_atfork(NULL, NULL, turn_off_in_child) != 0 || !lh_snapshot_start()) {
        note("cannot start the snapshot writer (is the run directory writable?)");
        return false;
    }
    return true;
}

__attribute__((constructor)) static void leakhunt_constructor(void)
{
    lh_tls.busy++;
    lh_interpose_resolve();
    atomic_store(&lh_run_state, start() ? LH_ON : LH_OFF);
    lh_tls.busy--;
}

__attribute__((destructor)) static void leakhunt_destructor(void)
{
    /* busy means exit() was called from inside our own slow path (a signal handler that interrupted it):
     * our locks may be held by this very thread, so no final snapshot rather than a deadlock. */
    if (atomic_load(&lh_run_state) != LH_ON || lh_tls.busy)
        return;
    lh_tls.busy++;
    lh_snapshot_final();
    lh_tls.busy--;
}
