#ifndef LEAKHUNT_UNWIND_WALK_H
#define LEAKHUNT_UNWIND_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* Returned by lh_unwind_capture when libgcc must unwind this stack instead. */
#define LH_UNWIND_USE_LIBGCC (-1)

/* Finds _dl_find_object and the main thread's stack, maps the rule cache (32 KiB); once, in the constructor. */
LH_HIDDEN bool lh_unwind_init(void);

/*
 * Captures the caller's return addresses from the compact tables (unwind_tables.h), innermost first, leaving out
 * those in [skip_start, skip_end) (the shim's own frames, which must keep frame pointers: they are stepped through
 * by rbp), up to max_depth; the same frames libgcc's
 * _Unwind_Backtrace reports. Returns the count, or LH_UNWIND_USE_LIBGCC when the tables cannot say: a page with
 * no table yet (it is requested, for the builder), a rule they cannot express, an object they do not know, a
 * stack whose bounds are unknown, or the tables changed during the walk. Every stack read is checked against
 * the thread's stack bounds; nothing else outside the shim's own memory is read.
 */
LH_HIDDEN int lh_unwind_capture(uintptr_t *pcs, int max_depth, uintptr_t skip_start, uintptr_t skip_end);

/* Asks the builder for the tables of the pages holding these return addresses (a stack libgcc just unwound), so
 * that the next walk through them finds every page at once rather than one more per builder turn. */
LH_HIDDEN void lh_unwind_want_pcs(const uintptr_t *pcs, int count);

/* The same for every page of [start, end): the shim's own text, whose frames begin every walk. */
LH_HIDDEN void lh_unwind_want_range(uintptr_t start, uintptr_t end);

#endif
