/*
 * Reading an object's call-frame information (.eh_frame_hdr, .eh_frame) into the rows of one page of its text,
 * for unwind_tables.c. Only ever called inside a dl_iterate_phdr callback for that object (so it stays mapped),
 * and only from the builder (one thread at a time: the CIE cache is static).
 */
#ifndef LEAKHUNT_UNWIND_CFI_H
#define LEAKHUNT_UNWIND_CFI_H

#include <link.h>
#include <stdbool.h>
#include <stdint.h>

#include "unwind_tables.h"

#define LH_CFI_MAX_SEGMENTS 16

/* An object's memory as dl_iterate_phdr shows it. Every read of its CFI is checked against its readable
 * PT_LOAD segments, so a corrupt .eh_frame cannot make the builder fault. */
struct lh_cfi_object {
    uintptr_t bias;
    uintptr_t text_start, text_end;
    uintptr_t segment_start[LH_CFI_MAX_SEGMENTS], segment_end[LH_CFI_MAX_SEGMENTS];
    int segments;
    uintptr_t hdr;
    const uint8_t *table; /* .eh_frame_hdr's sorted (initial location, FDE) pairs, both i32 relative to hdr */
    uint32_t fde_count;
};

/* The rows of one page being built. Row 0 is at offset 0: what is in force where the page begins. */
struct lh_cfi_page {
    uintptr_t start, end;
    uint32_t count;
    bool broken; /* rows out of order (overlapping FDEs): the page is left to libgcc */
    uint32_t offset[LH_UNWIND_MAX_PAGE_ROWS + 1];
    uint32_t rule[LH_UNWIND_MAX_PAGE_ROWS + 1];
};

/* Reads an object's segments and opens its .eh_frame_hdr (hdr is 0 when it has none the tables can use). */
LH_HIDDEN void lh_cfi_view_object(const struct dl_phdr_info *info, struct lh_cfi_object *o);

/* The FDE count and the first and last entries of its table: tells a library from another loaded at the same
 * address. */
LH_HIDDEN uint64_t lh_cfi_fingerprint(const struct lh_cfi_object *o);

/* Forgets the cached CIEs: call before building pages of another object. */
LH_HIDDEN void lh_cfi_forget_cies(void);

/* The rows of the page of text starting at `page_start`, from every FDE that overlaps it; false if they cannot be
 * trusted (malformed CFI, overlapping FDEs): the page is then left to libgcc. */
LH_HIDDEN bool lh_cfi_build_page(const struct lh_cfi_object *o, uintptr_t page_start, struct lh_cfi_page *out);

#endif
