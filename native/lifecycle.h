#ifndef LEAKHUNT_LIFECYCLE_H
#define LEAKHUNT_LIFECYCLE_H

#include <stdbool.h>

#include "shim.h"

/* With lh_config set: the sampler, the tables, the fork handlers and the writer (says why on stderr when it cannot).
 * The constructor's second half, and attach.c's first attach. */
LH_HIDDEN bool lh_start_recording(void);

#endif
