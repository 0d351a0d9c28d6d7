#ifndef LEAKHUNT_UNLOADED_H
#define LEAKHUNT_UNLOADED_H

#include <stddef.h>

#include "shim.h"

/* Streams the remembered segments of unloaded objects, as /proc/<pid>/maps lines, to sink(). */
LH_HIDDEN void lh_unloaded_write(void (*sink)(const void *, size_t, void *), void *context);

/* How many objects are remembered (0: the UNLOADED record is left out). */
LH_HIDDEN int lh_unloaded_count(void);

#endif
