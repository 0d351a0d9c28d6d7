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
#include "interpose.h"
#include "liveness.h"
#include "sampler.h"
#include "scratch.h"
#include "writer.h"
#include "stacks.h"
#include "state.h"

static void turn_off_in_child(void)
{
    atomic_store(&lh_run_state, LH_OFF);
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
    lh_sampler_configure(lh_config.sample_interval_bytes);
    lh_stacks_locate_self();
    if (!lh_live_init(lh_config.table_capacity) ||
        !lh_stacks_init(lh_config.max_stacks, lh_config.max_stack_depth) ||
        !lh_scratch_init(lh_config.max_stack_depth)) {
        lh_say(LH_SAY_DISABLED, "cannot map memory for its tables", NULL);
        return false;
    }
    if (pthread_atfork(NULL, NULL, turn_off_in_child) != 0 || !lh_writer_start()) {
        lh_say(LH_SAY_DISABLED, "cannot start the snapshot writer (is the run directory writable?)", NULL);
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
