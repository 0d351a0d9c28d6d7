#ifndef LEAKHUNT_SNAPSHOT_H
#define LEAKHUNT_SNAPSHOT_H

#include <stdbool.h>

#include "shim.h"

/* Creates <raw dir>/<pid>/, maps the writer's buffers and starts the writer thread with every signal
 * blocked. Returns false (and the shim stays off) if any of that fails. */
LH_HIDDEN bool lh_snapshot_start(void);

/* Stops the writer thread (joined: the process has one thread fewer) and holds it stopped until
 * lh_snapshot_resume(), for calls that need a single-threaded process or that glibc broadcasts to every
 * thread (unshare(CLONE_NEWUSER), setns, the setxid family). Returns false, with nothing held, if there was
 * no writer of this process to stop (then do not call resume). */
LH_HIDDEN bool lh_snapshot_pause(void);
LH_HIDDEN void lh_snapshot_resume(void);

/* Writes the final snapshot at normal exit and stops the writer thread. */
LH_HIDDEN void lh_snapshot_final(void);

#endif
