#ifndef LEAKHUNT_SNAPSHOT_H
#define LEAKHUNT_SNAPSHOT_H

#include <stdbool.h>

#include "shim.h"

/* Creates <raw dir>/<pid>/ (continuing an earlier image's sequence after exec) and maps the buffers a
 * snapshot is gathered in. False if either fails. */
LH_HIDDEN bool lh_snapshot_prepare(void);

/* Writes one snapshot (serialised: any thread may call it). is_final marks the one taken at normal exit,
 * after_trim the second snapshot of a trim probe. Applies snapshot retention after it. */
LH_HIDDEN void lh_snapshot_write(bool is_final, bool after_trim);

/* The trim probe: a snapshot, malloc_trim(0), a snapshot. What RSS drops by was free memory the allocator
 * held on to — direct evidence of fragmentation rather than live data. */
LH_HIDDEN void lh_snapshot_trim_probe(void);

/* Whether the CLI dropped the control file `name` into the pid directory (and removes it). */
LH_HIDDEN bool lh_snapshot_control_requested(const char *name);

#endif
