#ifndef LEAKHUNT_RESIDENT_H
#define LEAKHUNT_RESIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"

/* A mapping's flags in the RESIDENT record (native/FORMAT.md). */
enum lh_resident_flag {
    LH_RESIDENT_READ = 1u << 0,
    LH_RESIDENT_WRITE = 1u << 1,
    LH_RESIDENT_EXEC = 1u << 2,
    LH_RESIDENT_SHARED = 1u << 3,
    LH_RESIDENT_FILE = 1u << 4,    /* backed by a file: an inode, or a path */
    LH_RESIDENT_HEAP = 1u << 5,    /* [heap]: the brk heap */
    LH_RESIDENT_STACK = 1u << 6,   /* [stack]: the main thread's stack */
    LH_RESIDENT_SPECIAL = 1u << 7, /* another bracketed name: [vdso], [vvar], [anon:…], … */
};

/* One mapping that holds resident pages. */
struct lh_resident_entry {
    uint64_t start, end;
    uint64_t rss_bytes;
    uint32_t flags;
    /* The size of an anonymous, inaccessible (---p) mapping that ends where this one starts, 0 if none (capped at
     * 4 GiB − 1): how a thread stack looks, its guard pages right below it. */
    uint32_t guard_below_bytes;
    /* The same for such a mapping that starts where this one ends: the reserved rest of a region committed from
     * its start (a glibc arena's heap, 64 MiB in all). */
    uint32_t reserved_above_bytes;
};

/* The smaps text parser: fed the file in chunks of any size, it calls `emit` for every mapping whose Rss is not 0.
 * No allocation; a line longer than its buffer is cut (only a header line's start matters). */
#define LH_SMAPS_LINE_BYTES 512
struct lh_smaps_parser {
    void (*emit)(const struct lh_resident_entry *entry, void *context);
    void *context;
    char line[LH_SMAPS_LINE_BYTES];
    size_t line_bytes;
    bool have_mapping;
    struct lh_resident_entry current;
    /* The last mapping with resident pages, held back until the next header says what lies above it. */
    bool have_pending;
    struct lh_resident_entry pending;
    /* The mapping before the current one, for guard_below_bytes. */
    uint64_t previous_end, previous_size;
    bool previous_is_guard;
    uint64_t total_rss_bytes;
    uint32_t mappings;
    uint32_t entries;
};

LH_HIDDEN void lh_smaps_begin(struct lh_smaps_parser *p, void (*emit)(const struct lh_resident_entry *, void *),
                              void *context);
LH_HIDDEN void lh_smaps_feed(struct lh_smaps_parser *p, const char *data, size_t bytes);
LH_HIDDEN void lh_smaps_end(struct lh_smaps_parser *p);

/* Whether this snapshot reads smaps: always the first and the final one; otherwise once the time since the last
 * reading is at least LH_RESIDENT_COST_RATIO times what that reading cost in CPU (its share held under 1/ratio). */
#define LH_RESIDENT_COST_RATIO 400u
LH_HIDDEN bool lh_resident_due(bool is_final, uint64_t now_ns);

/* Writes the RESIDENT record's payload into the snapshot being written (output.h): /proc/self/smaps, read now. */
LH_HIDDEN void lh_resident_write(uint64_t now_ns);

#endif
