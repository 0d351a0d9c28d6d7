#ifndef LEAKHUNT_WRITER_H
#define LEAKHUNT_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* Creates <raw dir>/<pid>/, maps the snapshot buffers and starts the writer thread with every signal
 * blocked. Returns false (and the shim stays off) if any of that fails. */
LH_HIDDEN bool lh_writer_start(void);

/* Stops the writer thread (joined: the process has one thread fewer) and holds it stopped until
 * lh_writer_resume(), for calls that need a single-threaded process or that glibc broadcasts to every
 * thread (unshare(CLONE_NEWUSER), setns, the setxid family). Returns false, with nothing held, if there was
 * no writer of this process to stop (then do not call resume). */
LH_HIDDEN bool lh_writer_pause(void);
LH_HIDDEN void lh_writer_resume(void);

/* fork(): the lifecycle lock taken before, released after in the parent and the child (lifecycle.c). A child
 * that calls setuid() takes it; held by a thread the child does not have, it would never come free. */
LH_HIDDEN void lh_writer_lock_for_fork(void);
LH_HIDDEN void lh_writer_unlock_after_fork(void);

/* Attach (attach.c): the writer also stops the run — sampling off (PAUSED), a final snapshot, the thread ends — when
 * the CLI drops `stop-request` or when lh_writer_owner_gone() says the CLI that attached is gone; before each
 * interval's snapshot it calls lh_writer_each_snapshot (the GOT re-scan). lh_writer_restart() starts a new run's
 * writer (joining the one that ended) with lh_config as it is now. */
extern LH_HIDDEN bool (*_Atomic lh_writer_owner_gone)(void);
extern LH_HIDDEN void (*_Atomic lh_writer_each_snapshot)(void);
LH_HIDDEN bool lh_writer_restart(void);

/* Writes the final snapshot at normal exit; the writer thread writes no more. */
LH_HIDDEN void lh_writer_final(void);

/* The writer's clock: a snapshot every interval, a look for the CLI's control files every 100 ms, and a sleep
 * until whichever comes first — so intervals shorter than the poll are kept too. Exposed for tests. */
struct lh_writer_clock {
    uint64_t interval_ns;
    uint64_t snapshot_due_ns;
    uint64_t poll_due_ns;
};
#define LH_WRITER_POLL 1u
#define LH_WRITER_SNAPSHOT 2u
LH_HIDDEN void lh_writer_clock_start(struct lh_writer_clock *c, uint64_t interval_ns, uint64_t now_ns);
/* What is due at `now_ns` (LH_WRITER_* bits), moving the clock past it; *wake_ns is when to look again. */
LH_HIDDEN unsigned lh_writer_clock_tick(struct lh_writer_clock *c, uint64_t now_ns, uint64_t *wake_ns);

#endif
