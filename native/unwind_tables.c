/*
 * Compact unwind tables for the fast stack walk (unwind_walk.c), built off the sampled path by the writer thread.
 *
 * What a table says. For x86-64 code the call-frame information (.eh_frame) of almost every instruction boils
 * down to: CFA = rsp + n or rbp + n, the return address at CFA - 8, and rbp either untouched or saved at
 * CFA + k. That fits in a u32 rule (unwind_tables.h). Everything else — DWARF expressions, registers saved in
 * other registers, signal frames ('S' CIEs), stack realignment — becomes FALLBACK (unwind_cfi.c reads the CFI),
 * and the walk hands the whole stack to libgcc, so our tables never have to be complete to be right.
 *
 * Per 4 KiB page, on demand. Tables are built per page of text, and only for pages some sampled stack passed
 * through: a JVM maps ~45 MiB of text with ~100 000 FDEs (libjvm alone 1.5 MB of .eh_frame), but its sampled
 * stacks touch a few hundred pages. A page's row block is [row count][offset, rule]... with offsets relative to
 * the page and a first row at offset 0 (the rule in force where the page starts, from a function that may have
 * begun pages earlier), consecutive equal rules merged. Each object has a directory: one u32 per page of its text
 * (unknown, wanted, failed, or the arena index of the block). To build a page, the FDEs overlapping it are found
 * by binary search in .eh_frame_hdr's sorted table and their CFA programs run from their start, keeping the rows
 * that fall in the page.
 *
 * Memory. One arena, LH_UNWIND_ARENA_BYTES (4 MiB) mapped once and demand paged, holds the directories (4 bytes
 * per 4 KiB of text, given to an object when a walk first asks for one of its pages: libjvm's is 14 KiB) and the
 * row blocks (8 bytes a row, typically 20–60 rows a page): on the JVM workload about 60 KiB in all. When it is
 * full the builder resets it — every walk in flight notices the generation change — and rebuilds what walks ask
 * for again; a full arena holds the tables of ~40 MiB of code in sampled stacks. The registry holds at most
 * LH_UNWIND_MAX_OBJECTS objects; pcs in an object beyond that are unwound by libgcc.
 *
 * Safety. The walk reads only the registry, the arena (every index checked against its size) and the thread's
 * stack; it never reads an object's memory. The builder reads .eh_frame_hdr and .eh_frame only inside a
 * dl_iterate_phdr callback — glibc unmaps an object under the same lock, so it stays mapped — and only within the
 * object's readable PT_LOAD segments, so a corrupt .eh_frame cannot make it fault. Loaded and unloaded objects are
 * noticed through dl_iterate_phdr's load/unload counters on every refresh, and at once after a dlclose()
 * (lh_unwind_tables_object_closed): ranges are republished under the registry's seqlock, so a walk that raced
 * with it discards its result. An object is identified by its load address, text range, .eh_frame_hdr address and
 * the first and last entries of its FDE table, so a different library loaded at the same address gets new tables.
 */
#define _GNU_SOURCE
#include "unwind_tables.h"

#include <link.h>
#include <pthread.h>
#include <string.h>

#include "unwind_cfi.h"

#define LH_UNWIND_ARENA_BYTES (4u << 20)

LH_HIDDEN struct lh_unwind_registry lh_unwind_registry;
LH_HIDDEN uint32_t *lh_unwind_arena;
LH_HIDDEN uint32_t lh_unwind_arena_words;
LH_HIDDEN _Atomic uint64_t lh_unwind_request_ring[LH_UNWIND_REQUEST_SLOTS];
LH_HIDDEN _Atomic uint32_t lh_unwind_requests_pending;
LH_HIDDEN void (*_Atomic lh_unwind_wake_builder)(void);

LH_HIDDEN __attribute__((noinline, cold)) void lh_unwind_requests_begin(void)
{
    if (atomic_exchange_explicit(&lh_unwind_requests_pending, 1, memory_order_release))
        return; /* another walk was first */
    void (*wake)(void) = atomic_load_explicit(&lh_unwind_wake_builder, memory_order_relaxed);
    if (wake)
        wake();
}

/* ---- the builder's own state: only under registry_lock ---- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t arena_used;
static unsigned long long seen_adds, seen_subs;
static bool scanned_once;
static bool reset_wanted; /* the arena filled up while building */
static _Atomic bool rescan_wanted;
static struct lh_unwind_table_stats stats;

/* An object as the builder knows it. The published range i is records[i] (kept sorted by text start). */
struct object_record {
    uintptr_t bias;
    uintptr_t text_start, text_end;
    uintptr_t hdr;         /* .eh_frame_hdr, 0 if none usable */
    uint64_t fingerprint;  /* FDE count and the first and last table entries */
    uint32_t directory;    /* arena index of its page directory, 0 if none */
    uint32_t pages;
};
static struct object_record records[LH_UNWIND_MAX_OBJECTS];
static uint32_t record_count;
static struct object_record scanned[LH_UNWIND_MAX_OBJECTS];
static uint32_t scanned_count;

LH_HIDDEN bool lh_unwind_tables_init(void)
{
    lh_unwind_arena = lh_map_memory(LH_UNWIND_ARENA_BYTES);
    if (!lh_unwind_arena)
        return false;
    lh_unwind_arena_words = LH_UNWIND_ARENA_BYTES / sizeof(uint32_t);
    arena_used = LH_PAGE_ROWS_MIN;
    return true;
}

/* ---- publishing ---- */

static void begin_update(void)
{
    atomic_fetch_add_explicit(&lh_unwind_registry.generation, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void end_update(void)
{
    atomic_fetch_add_explicit(&lh_unwind_registry.generation, 1, memory_order_release);
}

static void publish_ranges(void)
{
    for (uint32_t i = 0; i < record_count; i++) {
        struct lh_unwind_range *range = &lh_unwind_registry.ranges[i];
        __atomic_store_n(&range->start, records[i].text_start, __ATOMIC_RELAXED);
        __atomic_store_n(&range->end, records[i].text_end, __ATOMIC_RELAXED);
        __atomic_store_n(&range->directory, records[i].directory, __ATOMIC_RELAXED);
        __atomic_store_n(&range->pages, records[i].hdr ? records[i].pages : 0, __ATOMIC_RELAXED);
    }
    atomic_store_explicit(&lh_unwind_registry.count, record_count, memory_order_relaxed);
}

/* Arena words for the caller, or 0 when full. */
static uint32_t arena_take(uint32_t words)
{
    if (words > lh_unwind_arena_words - arena_used)
        return 0;
    uint32_t at = arena_used;
    arena_used += words;
    stats.arena_words_used = arena_used;
    return at;
}

/* The first page a walk asks for in an object gives it its directory (most loaded objects never appear in a
 * sampled stack: a JVM maps ~70). Published with a release store: a walk that reads it reads it zeroed. False
 * when the arena is full. */
static bool give_directory(uint32_t index)
{
    struct object_record *r = &records[index];
    uint32_t at = arena_take(r->pages);
    if (!at)
        return false;
    memset(&lh_unwind_arena[at], 0, (size_t)r->pages * sizeof(uint32_t));
    r->directory = at;
    __atomic_store_n(&lh_unwind_registry.ranges[index].directory, at, __ATOMIC_RELEASE);
    return true;
}

/* Forgets every table: directories and row blocks are given anew as walks ask again. Caller republishes the
 * ranges inside begin_update/end_update, so walks in flight see the generation change. */
static void reset_arena(void)
{
    arena_used = LH_PAGE_ROWS_MIN;
    stats.resets++;
    for (uint32_t i = 0; i < record_count; i++)
        records[i].directory = 0;
}

static int collect_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    if (scanned_count == LH_UNWIND_MAX_OBJECTS)
        return 1;
    struct lh_cfi_object o;
    lh_cfi_view_object(info, &o);
    if (!o.text_start || o.text_end - o.text_start >= (1ull << (20 + LH_UNWIND_PAGE_SHIFT)))
        return 0;
    scanned[scanned_count++] = (struct object_record){
        .bias = o.bias, .text_start = o.text_start, .text_end = o.text_end, .hdr = o.hdr,
        .fingerprint = lh_cfi_fingerprint(&o),
        .pages = (uint32_t)((o.text_end - o.text_start + (1u << LH_UNWIND_PAGE_SHIFT) - 1) >> LH_UNWIND_PAGE_SHIFT)};
    return 0;
}

static bool same_object(const struct object_record *a, const struct object_record *b)
{
    return a->bias == b->bias && a->text_start == b->text_start && a->text_end == b->text_end && a->hdr == b->hdr &&
           a->fingerprint == b->fingerprint;
}

/* Caller holds registry_lock. Re-reads the loaded objects and republishes the ranges; objects still loaded keep
 * their tables. */
static void rescan(void)
{
    scanned_count = 0;
    dl_iterate_phdr(collect_object, NULL);
    for (uint32_t i = 0; i < scanned_count; i++) {
        for (uint32_t k = 0; k < record_count; k++) {
            if (same_object(&scanned[i], &records[k])) {
                scanned[i].directory = records[k].directory;
                break;
            }
        }
    }
    /* Insertion sort by text start: a few hundred objects at most, and mostly sorted already. */
    for (uint32_t i = 1; i < scanned_count; i++) {
        struct object_record moving = scanned[i];
        uint32_t k = i;
        for (; k > 0 && scanned[k - 1].text_start > moving.text_start; k--)
            scanned[k] = scanned[k - 1];
        scanned[k] = moving;
    }
    begin_update();
    memcpy(records, scanned, (size_t)scanned_count * sizeof *records);
    record_count = scanned_count;
    publish_ranges();
    stats.objects = record_count;
    end_update();
    scanned_once = true;
}

struct counts {
    unsigned long long adds, subs;
};

static int read_counts(struct dl_phdr_info *info, size_t size, void *data)
{
    struct counts *c = data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c->adds = info->dlpi_adds;
        c->subs = info->dlpi_subs;
    }
    return 1;
}

/* ---- building the pages walks asked for ---- */

static struct lh_cfi_page page_scratch;

/* Builds one page of record `index` into the arena and publishes it. Caller is inside dl_iterate_phdr. */
static void build_page(const struct lh_cfi_object *o, const struct object_record *r, uint32_t page)
{
    uint32_t *entry = &lh_unwind_arena[r->directory + page];
    if (__atomic_load_n(entry, __ATOMIC_RELAXED) != LH_PAGE_WANTED)
        return;
    uint32_t value = LH_PAGE_FAILED;
    if (lh_cfi_build_page(o, r->text_start + ((uintptr_t)page << LH_UNWIND_PAGE_SHIFT), &page_scratch)) {
        uint32_t at = arena_take(1 + 2 * page_scratch.count);
        if (at) {
            lh_unwind_arena[at] = page_scratch.count;
            for (uint32_t i = 0; i < page_scratch.count; i++) {
                lh_unwind_arena[at + 1 + 2 * i] = page_scratch.offset[i];
                lh_unwind_arena[at + 2 + 2 * i] = page_scratch.rule[i];
            }
            value = at;
        } else {
            reset_wanted = true; /* full: the next refresh starts the arena afresh */
            value = LH_PAGE_UNKNOWN;
        }
    }
    if (value == LH_PAGE_FAILED)
        stats.pages_failed++;
    else if (value != LH_PAGE_UNKNOWN)
        stats.pages_built++;
    /* Release: a walk that reads the index reads the rows. */
    __atomic_store_n(entry, value, __ATOMIC_RELEASE);
}

static int build_wanted(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    struct lh_cfi_object o;
    lh_cfi_view_object(info, &o);
    if (!o.hdr)
        return 0;
    struct object_record probe = {.bias = o.bias, .text_start = o.text_start, .text_end = o.text_end, .hdr = o.hdr,
                                  .fingerprint = lh_cfi_fingerprint(&o)};
    for (uint32_t i = 0; i < record_count; i++) {
        const struct object_record *r = &records[i];
        if (!r->directory || !same_object(&probe, r))
            continue;
        lh_cfi_forget_cies();
        for (uint32_t page = 0; page < r->pages; page++)
            if (__atomic_load_n(&lh_unwind_arena[r->directory + page], __ATOMIC_RELAXED) == LH_PAGE_WANTED)
                build_page(&o, r, page);
        break;
    }
    return 0;
}

/* Turns the requests in the ring into WANTED directory entries; true if any. */
static bool take_requests(void)
{
    if (!atomic_exchange_explicit(&lh_unwind_requests_pending, 0, memory_order_acquire))
        return false;
    uint64_t generation = atomic_load_explicit(&lh_unwind_registry.generation, memory_order_relaxed);
    bool any = false;
    for (int i = 0; i < LH_UNWIND_REQUEST_SLOTS; i++) {
        uint64_t request = atomic_exchange_explicit(&lh_unwind_request_ring[i], 0, memory_order_relaxed);
        if (!request || (request >> 32) != (generation & 0xffffffffu))
            continue; /* empty, or about ranges since replaced */
        uint32_t object = (uint32_t)(request >> 20) & 0x7ff, page = (uint32_t)request & 0xfffff;
        if (object >= record_count || page >= records[object].pages || !records[object].hdr)
            continue;
        if (!records[object].directory && !give_directory(object)) {
            reset_wanted = true; /* full: the next refresh starts the arena afresh */
            return any;
        }
        uint32_t *entry = &lh_unwind_arena[records[object].directory + page];
        if (__atomic_load_n(entry, __ATOMIC_RELAXED) == LH_PAGE_UNKNOWN) {
            __atomic_store_n(entry, LH_PAGE_WANTED, __ATOMIC_RELAXED);
            any = true;
        }
    }
    return any;
}

LH_HIDDEN void lh_unwind_tables_refresh(void)
{
    if (!lh_unwind_arena)
        return;
    pthread_mutex_lock(&registry_lock);
    struct counts now = {0, 0};
    dl_iterate_phdr(read_counts, &now);
    if (!scanned_once || now.adds != seen_adds || now.subs != seen_subs ||
        atomic_exchange(&rescan_wanted, false)) {
        seen_adds = now.adds;
        seen_subs = now.subs;
        rescan();
    }
    if (reset_wanted) {
        reset_wanted = false;
        begin_update();
        reset_arena();
        publish_ranges();
        end_update();
    }
    if (take_requests())
        dl_iterate_phdr(build_wanted, NULL);
    pthread_mutex_unlock(&registry_lock);
}

LH_HIDDEN void lh_unwind_tables_object_closed(void)
{
    if (!lh_unwind_arena || !scanned_once)
        return;
    /* Never wait here: dlclose may be called from places that hold what the builder is waiting for. The writer's
     * next refresh sees the unload count change anyway. */
    if (pthread_mutex_trylock(&registry_lock) != 0) {
        rescan_wanted = true;
        return;
    }
    struct counts now = {0, 0};
    dl_iterate_phdr(read_counts, &now);
    if (now.subs != seen_subs) {
        seen_adds = now.adds;
        seen_subs = now.subs;
        rescan();
    }
    pthread_mutex_unlock(&registry_lock);
}

LH_HIDDEN void lh_unwind_tables_stats(struct lh_unwind_table_stats *out)
{
    pthread_mutex_lock(&registry_lock);
    *out = stats;
    pthread_mutex_unlock(&registry_lock);
}
