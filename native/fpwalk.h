#ifndef LEAKHUNT_FPWALK_H
#define LEAKHUNT_FPWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/*
 * Whether a stack the DWARF unwinder ended at `last_pc` (a return address) goes on by frame pointers: the pc is
 * in a loaded object, in code without unwind information (V8's embedded builtins). Not for code outside every
 * object (a JVM's code cache). See fpwalk.c.
 */
LH_HIDDEN bool lh_fpwalk_wanted(uintptr_t last_pc);

/*
 * Appends to pcs[depth..max_depth) the return addresses of the frame-pointer chain starting at frame pointer
 * `fp` (the frame of the last pc), every stack read checked by the kernel; stops at the first return address back
 * in code with unwind information (which it keeps), at a broken chain, or at an unreadable frame. Returns the new
 * depth.
 */
LH_HIDDEN int lh_fpwalk_on(uintptr_t fp, uintptr_t *pcs, int depth, int max_depth);

#endif
