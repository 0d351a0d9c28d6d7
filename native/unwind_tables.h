/*
 * Compact unwind tables, shared by their builder (unwind_tables.c, off the sampled path) and the walk
 * (unwind_walk.c, on it). Layout and publication are described in unwind_tables.c; this header holds what the walk
 * needs to read them: the registry of loaded objects (a seqlock-published sorted array of text ranges) and the
 * arena of page directories and row blocks.
 *
 * A rule is one u32:
 *   bits 0-2   kind: GAP (no FDE covers the pc), CFA_RSP / CFA_RBP (CFA = rsp or rbp + offset, return address
 *              at CFA - 8), END (the return address is undefined: the outermost frame), FALLBACK (a rule the
 *              table cannot express: libgcc must unwind this stack)
 *   bit  3     rbp saved (else the caller's rbp is this frame's rbp)
 *   bits 4-11  where rbp is saved: a signed number of 8-byte words from the CFA
 *   bits 12-31 the CFA offset in bytes (< 1 MiB)
 */
#ifndef LEAKHUNT_UNWIND_TABLES_H
#define LEAKHUNT_UNWIND_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

enum lh_rule_kind {
    LH_RULE_GAP = 0,
    LH_RULE_CFA_RSP = 1,
    LH_RULE_CFA_RBP = 2,
    LH_RULE_END = 3,
    LH_RULE_FALLBACK = 4,
};

static inline uint32_t lh_rule_kind(uint32_t rule)
{
    return rule & 7u;
}
static inline bool lh_rule_rbp_saved(uint32_t rule)
{
    return (rule >> 3) & 1u;
}
static inline int32_t lh_rule_rbp_slot(uint32_t rule)
{
    return (int32_t)(int8_t)(uint8_t)(rule >> 4);
}
static inline uint32_t lh_rule_cfa_offset(uint32_t rule)
{
    return rule >> 12;
}

#define LH_UNWIND_PAGE_SHIFT 12
#define LH_UNWIND_MAX_OBJECTS 512
/* Rows in one page's block: one per distinct offset at most. */
#define LH_UNWIND_MAX_PAGE_ROWS (1u << LH_UNWIND_PAGE_SHIFT)

/* A page directory entry: one of these, or (>= LH_PAGE_ROWS_MIN) the arena index of the page's row block. */
#define LH_PAGE_UNKNOWN 0u  /* no table yet: nobody has asked */
#define LH_PAGE_WANTED 1u   /* a walk asked for it; the builder will build it */
#define LH_PAGE_FAILED 2u   /* cannot be built (malformed CFI, arena full): libgcc unwinds through it */
#define LH_PAGE_ROWS_MIN 8u /* the arena's first words are never a row block */

/* One loaded object's executable text, as the walk sees it. `directory` is the arena index of one u32 entry per
 * page of text, 0 until a walk first asks for one of its pages; `pages` is 0 if the object has no usable
 * .eh_frame_hdr (libgcc unwinds through it). */
struct lh_unwind_range {
    uintptr_t start;
    uintptr_t end;
    uint32_t directory;
    uint32_t pages;
};

/* Even generation: the ranges are stable. The builder makes it odd while it rewrites them. A walk reads the
 * generation before and after; any change means it may have read a table being replaced and must not be
 * trusted. Every field below is read with relaxed atomic loads: a stale or torn value is caught that way, and
 * every index taken from it is checked against the arena's size before use, so no read ever faults. */
struct lh_unwind_registry {
    _Atomic uint64_t generation;
    _Atomic uint32_t count;
    struct lh_unwind_range ranges[LH_UNWIND_MAX_OBJECTS];
};

extern LH_HIDDEN struct lh_unwind_registry lh_unwind_registry;
extern LH_HIDDEN uint32_t *lh_unwind_arena;
extern LH_HIDDEN uint32_t lh_unwind_arena_words;

/*
 * Requests from walks for pages without a table: a walk never writes into the arena (a slow walk could write
 * into memory a reset has given to something else), it drops (generation, object, page) into this ring, one
 * relaxed store to a slot chosen by hashing, and the builder reads the ring. A request overwritten before the
 * builder saw it is simply made again by the next walk through that page.
 */
#define LH_UNWIND_REQUEST_SLOTS 256
extern LH_HIDDEN _Atomic uint64_t lh_unwind_request_ring[LH_UNWIND_REQUEST_SLOTS];
extern LH_HIDDEN _Atomic uint32_t lh_unwind_requests_pending;

/* The builder's wake-up, set when the writer starts: the first request after the builder's last turn calls it, so
 * pages are built within about a millisecond instead of at the writer's next poll. It takes no lock (a futex
 * wake); NULL until there is a writer. */
extern LH_HIDDEN void (*_Atomic lh_unwind_wake_builder)(void);

/* The first request since the builder's last turn: marks requests pending and wakes the builder (out of line, to
 * keep the walk's loop small). */
LH_HIDDEN void lh_unwind_requests_begin(void);

static inline void lh_unwind_request_page(uint64_t generation, uint32_t object, uint32_t page)
{
    uint64_t request = (generation << 32) | ((uint64_t)object << 20) | page;
    uint32_t slot = (uint32_t)((request * 0x9E3779B97F4A7C15ull) >> 56) % LH_UNWIND_REQUEST_SLOTS;
    atomic_store_explicit(&lh_unwind_request_ring[slot], request | (1ull << 31), memory_order_relaxed);
    if (__builtin_expect(!atomic_load_explicit(&lh_unwind_requests_pending, memory_order_relaxed), 0))
        lh_unwind_requests_begin();
}

/* Maps the arena (the stated worst case: LH_UNWIND_ARENA_BYTES, demand paged). False if it cannot. */
LH_HIDDEN bool lh_unwind_tables_init(void);

/* The builder's turn (the writer thread, every poll, and a batch after a walk asked for a page): notices loaded
 * and unloaded objects and builds the pages walks asked for. Reads objects' .eh_frame only inside
 * dl_iterate_phdr, which keeps them mapped. */
LH_HIDDEN void lh_unwind_tables_refresh(void);

/* An object may just have been unloaded (called after dlclose returned): its ranges go at once, so a walk
 * never applies its tables to whatever is mapped there next. */
LH_HIDDEN void lh_unwind_tables_object_closed(void);

/* For tests and the bench: pages built, arena words used, resets, registered objects. */
struct lh_unwind_table_stats {
    uint64_t pages_built;
    uint64_t pages_failed;
    uint64_t arena_words_used;
    uint64_t resets;
    uint32_t objects;
};
LH_HIDDEN void lh_unwind_tables_stats(struct lh_unwind_table_stats *out);

#endif
