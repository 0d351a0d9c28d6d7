#ifndef LEAKHUNT_SNAPSHOT_H
#define LEAKHUNT_SNAPSHOT_H

#include <stdbool.h>

#include "shim.h"

/* Creates <raw dir>/<pid>/, maps the writer's buffers and starts the writer thread with every signal
 * blocked. Returns false (and the shim stays off) if any of that fails. */
LH_HIDDEN bool lh_snapshot_start(void);

/* Writes the final snapshot at normal exit and stops the writer thread. */
LH_HIDDEN void lh_snapshot_final(void);

#endif
