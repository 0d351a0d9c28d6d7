#ifndef LEAKHUNT_INTERPOSE_H
#define LEAKHUNT_INTERPOSE_H

#include "shim.h"

/* Resolves the next allocator's functions (idempotent, thread-safe). */
LH_HIDDEN void lh_interpose_resolve(void);

#endif
