/*
 * The writer thread: when snapshots are taken (snapshot.c says what they hold).
 *
 * A thread of the shim's own, with every signal blocked (the target's signals, and above all the JVM's
 * SIGSEGV/SIGBUS handling, are never delivered to it) and the reentrancy guard set for good. Every interval,
 * or when the CLI drops a control file (flush-request, trim-request), it writes a snapshot. It can be stopped
 * and joined and started again around calls that need the process to themselves (credentials.c); the final
 * snapshot is taken by the thread that ends the program (lifecycle.c).
 */
#define _GNU_SOURCE
#include "writer.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"
#include "state.h"
#include "unwind_tables.h"

#define POLL_MS 100u

static pthread_t writer_thread;
static _Atomic bool stopping;
/* The writer sleeps on this condition so that a pause does not wait out its poll. */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
/* Serialises start, pause, resume and the final snapshot; the writer runs only in the process that started it
 * (never in a fork child, whose copy of writer_thread names no thread of its own). */
static pthread_mutex_t lifecycle_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t writer_pid;
static bool writer_running;
static bool writer_finished;

static void sleep_one_poll(void)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += POLL_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wake_lock);
    if (!atomic_load(&stopping))
        pthread_cond_timedwait(&wake, &wake_lock, &until);
    pthread_mutex_unlock(&wake_lock);
}

static void *writer_main(void *unused)
{
    (void)unused;
    lh_tls.quiet = 1; /* for good: nothing this thread allocates is sampled */
    uint64_t interval_ns = lh_config.snapshot_interval_ms * 1000000u;
    uint64_t next_due = lh_monotonic_ns() + interval_ns;
    while (!atomic_load(&stopping)) {
        sleep_one_poll();
        if (atomic_load(&stopping))
            break;
        lh_unwind_tables_refresh(); /* the unwinder's tables: new objects, pages stacks asked for */
        if (lh_snapshot_control_requested("trim-request")) {
            lh_snapshot_trim_probe();
            next_due = lh_monotonic_ns() + interval_ns;
            continue;
        }
        bool flush = lh_snapshot_control_requested("flush-request");
        if (!flush && lh_monotonic_ns() < next_due)
            continue;
        lh_snapshot_write(false, false);
        next_due = lh_monotonic_ns() + interval_ns;
    }
    return NULL;
}

/* Caller holds lifecycle_lock. */
static bool start_writer_thread(void)
{
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    atomic_store(&stopping, false);
    int failed = pthread_create(&writer_thread, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    writer_running = failed == 0;
    writer_pid = getpid();
    return writer_running;
}

/* Caller holds lifecycle_lock. */
static void stop_writer_thread(void)
{
    pthread_mutex_lock(&wake_lock);
    atomic_store(&stopping, true);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&wake_lock);
    pthread_join(writer_thread, NULL);
    writer_running = false;
}

LH_HIDDEN bool lh_writer_start(void)
{
    if (!lh_snapshot_prepare())
        return false;
    pthread_condattr_t attributes;
    if (pthread_condattr_init(&attributes) != 0 || pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&wake, &attributes) != 0)
        return false;
    pthread_condattr_destroy(&attributes);
    pthread_mutex_lock(&lifecycle_lock);
    bool started = start_writer_thread();
    pthread_mutex_unlock(&lifecycle_lock);
    return started;
}

LH_HIDDEN bool lh_writer_pause(void)
{
    pthread_mutex_lock(&lifecycle_lock);
    bool paused = writer_running && !writer_finished && writer_pid == getpid() &&
                  !pthread_equal(pthread_self(), writer_thread);
    if (paused)
        stop_writer_thread();
    else
        pthread_mutex_unlock(&lifecycle_lock);
    return paused;
}

LH_HIDDEN void lh_writer_resume(void)
{
    if (!writer_finished && atomic_load(&lh_run_state) == LH_ON)
        start_writer_thread();
    pthread_mutex_unlock(&lifecycle_lock);
}

LH_HIDDEN void lh_writer_final(void)
{
    pthread_mutex_lock(&lifecycle_lock);
    writer_finished = true;
    pthread_mutex_unlock(&lifecycle_lock);
    atomic_store(&stopping, true);
    lh_snapshot_write(true, false);
}
