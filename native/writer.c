/*
 * The writer thread: when snapshots are taken (snapshot.c says what they hold).
 *
 * A thread of the shim's own, with every signal blocked (the target's signals, and above all the JVM's
 * SIGSEGV/SIGBUS handling, are never delivered to it) and the reentrancy guard set for good. Every interval,
 * or when the CLI drops a control file into the pid directory (flush-request: a snapshot now; trim-request: the
 * trim probe, a snapshot, malloc_trim(0) and another), it writes a snapshot. It is also the builder of the
 * unwinder's tables (unwind_tables.c): at every look, and a millisecond after a walk asks for a page. It can be
 * stopped and joined and started again around calls that need the process to themselves (credentials.c); the
 * final snapshot is taken by the thread that ends the program (lifecycle.c).
 */
#define _GNU_SOURCE
#include "writer.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"
#include "state.h"
#include "unwind_tables.h"

/* How often the writer looks for the CLI's control files: FORMAT.md promises "within about 100 ms". */
#define CONTROL_POLL_NS (100u * 1000000u)

/* After a walk asked for unwind tables, the builder waits this long before its turn: the first samples of a
 * program (or of code it just loaded) go to libgcc's slow unwinder only until then, not for a whole poll — on a
 * short run 100 ms was a third of its samples — and a burst of requests is built in one turn, at most a thousand
 * turns a second. */
#define BUILD_BATCH_NS (1000u * 1000u)

static pthread_t writer_thread;
static _Atomic bool stopping;
/* The writer sleeps on this futex word; a stop, a pause or a walk's first request for tables bumps it and wakes
 * the writer. A futex, not a condition variable: the request comes from inside malloc, where a wake must take no
 * lock (a system call, made at most once per builder turn). */
static _Atomic uint32_t wake_word;
/* Serialises start, pause, resume and the final snapshot; the writer runs only in the process that started it
 * (never in a fork child, whose copy of writer_thread names no thread of its own). */
static pthread_mutex_t lifecycle_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t writer_pid;
static bool writer_running;
static bool writer_finished;
/* Kept across pause and resume: a target that calls setuid() more often than the interval still gets its
 * snapshots, on the same grid. Set up by the first start. */
static struct lh_writer_clock schedule;
static int (*malloc_trim_function)(size_t);

/* Whether the CLI dropped the control file `name` into the pid directory (and removes it). */
static bool control_requested(const char *name)
{
    int dir = lh_snapshot_directory();
    if (faccessat(dir, name, F_OK, 0) != 0)
        return false;
    unlinkat(dir, name, 0);
    return true;
}

/* The trim probe: a snapshot, malloc_trim(0), a snapshot. What RSS drops by was free memory the allocator
 * held on to — direct evidence of fragmentation rather than live data. */
static void trim_probe(void)
{
    lh_snapshot_write(false, false);
    if (malloc_trim_function)
        malloc_trim_function(0);
    lh_snapshot_write(false, true);
}

LH_HIDDEN void lh_writer_clock_start(struct lh_writer_clock *c, uint64_t interval_ns, uint64_t now_ns)
{
    c->interval_ns = interval_ns;
    c->snapshot_due_ns = now_ns + interval_ns;
    c->poll_due_ns = now_ns + CONTROL_POLL_NS;
}

LH_HIDDEN unsigned lh_writer_clock_tick(struct lh_writer_clock *c, uint64_t now_ns, uint64_t *wake_ns)
{
    unsigned due = 0;
    if (now_ns >= c->poll_due_ns) {
        due |= LH_WRITER_POLL;
        c->poll_due_ns = now_ns + CONTROL_POLL_NS;
    }
    if (now_ns >= c->snapshot_due_ns) {
        due |= LH_WRITER_SNAPSHOT;
        /* On the interval's grid, so a slow write does not push every later snapshot back; but after a stall
         * longer than an interval, one snapshot and a fresh start rather than a burst to catch up. */
        c->snapshot_due_ns += c->interval_ns;
        if (c->snapshot_due_ns <= now_ns)
            c->snapshot_due_ns = now_ns + c->interval_ns;
    }
    *wake_ns = c->snapshot_due_ns < c->poll_due_ns ? c->snapshot_due_ns : c->poll_due_ns;
    return due;
}

static void wait_on_word(uint32_t seen, uint64_t until_ns)
{
    struct timespec until = {(time_t)(until_ns / 1000000000u), (long)(until_ns % 1000000000u)};
    /* FUTEX_WAIT_BITSET: an absolute CLOCK_MONOTONIC deadline. Returns at once if the word moved since `seen`. */
    syscall(SYS_futex, &wake_word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, &until, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Called from inside malloc too (a walk's first request): no lock, and errno as the caller left it. */
static void wake_writer(void)
{
    int saved_errno = errno;
    atomic_fetch_add(&wake_word, 1);
    syscall(SYS_futex, &wake_word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
    errno = saved_errno;
}

/* Sleeps until `wake_ns` (CLOCK_MONOTONIC), until a pause or the final snapshot stops the writer, or — a batch
 * later — until a walk asks for unwind tables. Requests made while the builder was busy woke no one: they wait
 * a batch from now too. */
static void sleep_until(uint64_t wake_ns)
{
    uint32_t seen = atomic_load(&wake_word);
    if (atomic_load(&stopping))
        return;
    if (!atomic_load_explicit(&lh_unwind_requests_pending, memory_order_relaxed)) {
        wait_on_word(seen, wake_ns);
        if (atomic_load(&stopping) || !atomic_load_explicit(&lh_unwind_requests_pending, memory_order_relaxed))
            return;
        seen = atomic_load(&wake_word);
    }
    uint64_t batch_ns = lh_monotonic_ns() + BUILD_BATCH_NS;
    wait_on_word(seen, batch_ns < wake_ns ? batch_ns : wake_ns);
}

LH_HIDDEN bool (*_Atomic lh_writer_owner_gone)(void);
LH_HIDDEN void (*_Atomic lh_writer_each_snapshot)(void);

/* stop-request, or the owner gone: sampling stops, the last stacks' Java methods get the agent's resolver (every
 * 100 ms) to name them, and the final snapshot is written. The hooks stay, passing calls through (PAUSED). */
static void stop_run(void)
{
    atomic_store(&lh_run_state, LH_PAUSED);
    struct timespec settle = {0, 250 * 1000000L};
    nanosleep(&settle, NULL);
    lh_snapshot_write(true, false);
    /* For the CLI: the final snapshot is there. */
    int marker = openat(lh_snapshot_directory(), "stopped", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (marker >= 0)
        close(marker);
}

static bool stop_requested(void)
{
    bool (*owner_gone)(void) = atomic_load(&lh_writer_owner_gone);
    return control_requested("stop-request") || (owner_gone && owner_gone());
}

static void *writer_main(void *unused)
{
    (void)unused;
    lh_tls.quiet = 1; /* for good: nothing this thread allocates is sampled */
    while (!atomic_load(&stopping)) {
        uint64_t wake_ns;
        unsigned due = lh_writer_clock_tick(&schedule, lh_monotonic_ns(), &wake_ns);
        lh_unwind_tables_refresh(); /* the unwinder's tables: new objects, pages stacks asked for */
        if ((due & LH_WRITER_POLL) && stop_requested()) {
            stop_run();
            break;
        }
        void (*each_snapshot)(void) = atomic_load(&lh_writer_each_snapshot);
        if ((due & LH_WRITER_SNAPSHOT) && each_snapshot)
            each_snapshot();
        if ((due & LH_WRITER_POLL) && control_requested("trim-request"))
            trim_probe();
        else if (((due & LH_WRITER_POLL) && control_requested("flush-request")) || (due & LH_WRITER_SNAPSHOT))
            lh_snapshot_write(false, false);
        sleep_until(wake_ns);
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
    atomic_store(&stopping, true);
    wake_writer();
    pthread_join(writer_thread, NULL);
    writer_running = false;
}

LH_HIDDEN bool lh_writer_start(void)
{
    if (!lh_snapshot_prepare())
        return false;
    malloc_trim_function = (int (*)(size_t))dlsym(RTLD_DEFAULT, "malloc_trim");
    atomic_store(&lh_unwind_wake_builder, wake_writer);
    pthread_mutex_lock(&lifecycle_lock);
    lh_writer_clock_start(&schedule, lh_config.snapshot_interval_ms * 1000000u, lh_monotonic_ns());
    bool started = start_writer_thread();
    pthread_mutex_unlock(&lifecycle_lock);
    return started;
}

LH_HIDDEN bool lh_writer_pause(void)
{
    /* An idle shim (a child of the target, a bad setting) or a forked child has no writer: no lock either. An idle
     * process registered no fork handlers, so a lock taken here could be inherited held by its own children. */
    if (atomic_load(&lh_run_state) == LH_OFF)
        return false;
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

LH_HIDDEN void lh_writer_lock_for_fork(void)
{
    pthread_mutex_lock(&lifecycle_lock);
}

LH_HIDDEN void lh_writer_unlock_after_fork(void)
{
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

LH_HIDDEN bool lh_writer_restart(void)
{
    pthread_mutex_lock(&lifecycle_lock);
    if (writer_running && writer_pid == getpid())
        stop_writer_thread(); /* it ended by itself at the stop; joined here */
    writer_finished = false;
    lh_writer_clock_start(&schedule, lh_config.snapshot_interval_ms * 1000000u, lh_monotonic_ns());
    bool started = start_writer_thread();
    pthread_mutex_unlock(&lifecycle_lock);
    return started;
}
