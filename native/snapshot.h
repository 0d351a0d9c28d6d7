#ifndef LEAKHUNT_SNAPSHOT_H
#define LEAKHUNT_SNAPSHOT_H

#include <stdbool.h>

#include "shim.h"

/* Creates <raw dir>/<pid>/ (continuing an earlier image's sequence after exec) and maps the buffers a
 * snapshot is gathered in. False if either fails. */
LH_HIDDEN bool lh_snapshot_prepare(void);

/* (Re)opens <raw dir>/<pid>/ under lh_config.raw_dir_fd as it is now: a new attached run's directory (attach.c). */
LH_HIDDEN bool lh_snapshot_open_directory(void);

/* Writes one snapshot (serialised: any thread may call it). is_final marks the one taken at normal exit,
 * after_trim the second snapshot of a trim probe. Applies snapshot retention after it. */
LH_HIDDEN void lh_snapshot_write(bool is_final, bool after_trim);

/* fork(): the write lock taken before, released after in the parent and the child (lifecycle.c). */
LH_HIDDEN void lh_snapshot_lock_for_fork(void);
LH_HIDDEN void lh_snapshot_unlock_after_fork(void);

/* The pid directory snapshots are written into (-1 before lh_snapshot_prepare): where the CLI drops its
 * control files for the writer. */
LH_HIDDEN int lh_snapshot_directory(void);

#endif
