#ifndef LEAKHUNT_WRITER_H
#define LEAKHUNT_WRITER_H

#include <stdbool.h>

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

/* Writes the final snapshot at normal exit; the writer thread writes no more. */
LH_HIDDEN void lh_writer_final(void);

#endif
