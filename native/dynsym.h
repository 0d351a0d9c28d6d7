#ifndef LEAKHUNT_DYNSYM_H
#define LEAKHUNT_DYNSYM_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* The address of `name` as defined by the first loaded object after the one holding the address `self` (the
 * definition dlsym(RTLD_NEXT) would give that object), else by an object before it; NULL if none defines it. Reads
 * the objects' dynamic symbol tables, checking every read: never calls dlsym, never allocates. */
LH_HIDDEN void *lh_dynsym_next(const char *name, const void *self);

#endif
