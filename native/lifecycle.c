/*
 * Start, fork and exit of the shim in a process.
 *
 * The constructor reads LEAKHUNT_* once, maps the tables and starts the writer; until it is done the
 * shim is STARTING (allocations pass through unsampled). A forked child turns the shim OFF: its copy of
 * the tables belongs to the parent's history and the parent's files are the parent's. An exec'd child is
 * a new image whose constructor sees a parent pid that is not the launcher's, and stays idle.
 *
 * The final snapshot is taken when the program decides to end — when main returns (we wrap main through
 * __libc_start_main) or when exit() is called — before atexit handlers and static destructors run. By
 * destructor time a leaking global std::map has been torn down by its own destructor, and the snapshot
 * would show nothing. The library destructor is only the fallback. No signal handler is ever installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "lifecycle.h"
#include "interpose.h"
#include "liveness.h"
#include "mappings.h"
#include "sampler.h"
#include "scratch.h"
#include "snapshot.h"
#include "stacks.h"
#include "writer.h"
#include "state.h"

/* ---- fork ----
 *
 * As jemalloc does: before fork() the forking thread takes every lock of the shim, and releases them after, in the
 * parent and in the child. A lock held by another thread at the moment of fork() would be held for ever in the
 * child, which has no such thread: the lifecycle lock, taken by the setuid family's wrappers, hung a child in its
 * first setuid(). The order is the one every other path takes them in: lifecycle (a pause joins the writer, which
 * may be writing), the write lock (a snapshot takes the table locks one by one), thinning before the shards, the
 * mapping table, the stack table last (its 64 stripes: a known stack is interned without one, so a fork waits only for
 * threads adding a new stack). The methods, unloaded-objects and writer-wake locks are left out: only the JVM agent's
 * resolver and the writer take them, and neither thread exists in a child; so is the unwinder's registry lock, which
 * only the writer takes (a dlclose only tries it, and a child's shim is off).
 *
 * Between the handlers, the forking thread is busy: the allocations other fork handlers make on it — in the child
 * before ours has run — are forwarded unsampled rather than waiting for locks this thread holds. The child then
 * turns the shim off: the parent's tables and files are the parent's. glibc runs the handlers of one fork at a
 * time, so `locked_for_fork` is not shared between two forks. Cost: a fork() waits for a snapshot being written. */
static bool locked_for_fork;

static void before_fork(void)
{
    /* A fork from a signal handler that interrupted the shim's own slow path on this thread: the locks may be this
     * thread's already. Take none; the child, turned off, never needs them. (With fork handlers, fork is not
     * async-signal-safe anyway: glibc offers _Fork for that.) */
    locked_for_fork = lh_tls.busy == 0;
    if (!locked_for_fork)
        return;
    lh_writer_lock_for_fork();
    lh_snapshot_lock_for_fork();
    lh_live_lock_for_fork();
    lh_mappings_lock_for_fork();
    lh_stacks_lock_for_fork();
    lh_tls.busy++;
}

static void unlock_after_fork(void)
{
    if (!locked_for_fork)
        return;
    lh_tls.busy--;
    lh_stacks_unlock_after_fork();
    lh_mappings_unlock_after_fork();
    lh_live_unlock_after_fork();
    lh_snapshot_unlock_after_fork();
    lh_writer_unlock_after_fork();
}

static void after_fork_in_parent(void)
{
    unlock_after_fork();
}

static void after_fork_in_child(void)
{
    atomic_store(&lh_run_state, LH_OFF);
    unlock_after_fork();
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
    return lh_start_recording();
}

LH_HIDDEN bool lh_start_recording(void)
{
    lh_sampler_configure(lh_config.sample_interval_bytes);
    lh_stacks_locate_self();
    lh_interpose_locate_allocator();
    if (!lh_live_init(lh_config.table_capacity) || !lh_mappings_init() ||
        !lh_stacks_init(lh_config.max_stacks, lh_config.max_stack_depth) ||
        !lh_scratch_init(lh_config.max_stack_depth)) {
        lh_say(LH_SAY_DISABLED, "cannot map memory for its tables", NULL);
        return false;
    }
    if (pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) != 0 || !lh_writer_start()) {
        lh_say(LH_SAY_DISABLED, "cannot start the snapshot writer (is the run directory writable?)", NULL);
        return false;
    }
    return true;
}

__attribute__((constructor)) static void leakhunt_constructor(void)
{
    lh_tls.busy++;
    lh_interpose_resolve();
    lh_interpose_mmap_resolve();
    atomic_store(&lh_run_state, start() ? LH_ON : LH_OFF);
    lh_tls.busy--;
}

static _Atomic bool final_taken;

static void take_final_snapshot(void)
{
    /* busy means exit() was called from inside our own slow path (a signal handler that interrupted it):
     * our locks may be held by this very thread, so no final snapshot rather than a deadlock. */
    if (atomic_load(&lh_run_state) != LH_ON || lh_tls.busy || atomic_exchange(&final_taken, true))
        return;
    /* System.exit on a Java thread: the VM is still alive to name what the last stacks refer to. */
    lh_tls.quiet++;
    lh_agent_resolve_pending();
    lh_tls.quiet--;
    lh_tls.busy++;
    lh_writer_final();
    lh_tls.busy--;
}

__attribute__((destructor)) static void leakhunt_destructor(void)
{
    take_final_snapshot();
}

typedef int (*main_function)(int, char **, char **);
static main_function program_main;

static int main_then_snapshot(int argc, char **argv, char **envp)
{
    int status = program_main(argc, argv, envp);
    take_final_snapshot();
    return status;
}

LH_EXPORT int __libc_start_main(main_function main, int argc, char **argv, void (*init)(void),
                                void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    program_main = main;
    return LH_NEXT(__libc_start_main)(main_then_snapshot, argc, argv, init, fini, rtld_fini, stack_end);
}

LH_EXPORT void exit(int status)
{
    take_final_snapshot();
    __typeof__(&exit) next = LH_NEXT(exit);
    if (next)
        next(status);
    _exit(status);
}
