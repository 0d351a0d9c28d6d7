/*
 * The table of sampled mappings that are still mapped: what mmap'd memory the shim tracks, until munmap or mremap
 * (whole, in part, moved) or a mapping placed over it ends it.
 *
 * A munmap may cover part of a mapping, one whole, or many, so the table answers range questions: a sorted array of
 * non-overlapping entries under one mutex, found by binary search. A cut that leaves a hole splits one entry in two.
 * Sampled mappings are few (a mapping is rarely smaller than a page, so at the default interval one is sampled
 * per 512 KiB mapped), and only sampled mmaps and calls whose range may hold one come here.
 *
 * Hot path cost: none of this on an unsampled call — munmap, mremap and mmap(MAP_FIXED) check the region filter in
 * mappings.h (two bounds, then one byte per 2 MiB of their range). Insert and remove take the mutex, a binary
 * search and a memmove of at most the table (512 KiB at 16384 entries; a few KiB in practice), and update one
 * filter byte per 2 MiB region of the entries they touch.
 *
 * Every entry keeps the weight of the mapping it came from: a mapping sampled with probability p(s) stands for 1/p(s)
 * mappings, and so do the pieces left of it, with the bytes they still hold (FORMAT.md, "Mappings").
 */
#define _GNU_SOURCE
#include "mappings.h"

#include <pthread.h>
#include <string.h>

#define PAGE_BYTES 4096u

LH_HIDDEN _Atomic uint8_t lh_region_filter[1u << LH_REGION_FILTER_BITS];
LH_HIDDEN _Atomic uintptr_t lh_tracked_low = UINTPTR_MAX;
LH_HIDDEN _Atomic uintptr_t lh_tracked_high;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lh_mapping *entries;
static uint32_t count;

static uint64_t page_end(const struct lh_mapping *m)
{
    return (m->end + PAGE_BYTES - 1) & ~(uint64_t)(PAGE_BYTES - 1);
}

LH_HIDDEN bool lh_mappings_init(void)
{
    entries = lh_map_memory(LH_MAPPING_CAPACITY * sizeof *entries);
    return entries != NULL;
}

/* ---- the region filter (caller holds the table lock) ---- */

static void filter_add(const struct lh_mapping *m)
{
    uint64_t last = (page_end(m) - 1) >> LH_REGION_SHIFT;
    for (uint64_t region = m->start >> LH_REGION_SHIFT; region <= last; region++) {
        _Atomic uint8_t *counter = &lh_region_filter[lh_region_index(region)];
        uint8_t seen = atomic_load_explicit(counter, memory_order_relaxed);
        if (seen < 255) /* 255 sticks: only costs extra lookups */
            atomic_store_explicit(counter, (uint8_t)(seen + 1), memory_order_relaxed);
    }
    if (m->start < atomic_load_explicit(&lh_tracked_low, memory_order_relaxed))
        atomic_store_explicit(&lh_tracked_low, m->start, memory_order_relaxed);
    if (page_end(m) > atomic_load_explicit(&lh_tracked_high, memory_order_relaxed))
        atomic_store_explicit(&lh_tracked_high, page_end(m), memory_order_relaxed);
}

static void filter_remove(const struct lh_mapping *m)
{
    uint64_t last = (page_end(m) - 1) >> LH_REGION_SHIFT;
    for (uint64_t region = m->start >> LH_REGION_SHIFT; region <= last; region++) {
        _Atomic uint8_t *counter = &lh_region_filter[lh_region_index(region)];
        uint8_t seen = atomic_load_explicit(counter, memory_order_relaxed);
        if (seen > 0 && seen < 255)
            atomic_store_explicit(counter, (uint8_t)(seen - 1), memory_order_relaxed);
    }
}

/* ---- the sorted array (caller holds the table lock) ---- */

/* The first entry that starts at or after `address`. */
static uint32_t lower_bound(uint64_t address)
{
    uint32_t low = 0, high = count;
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (entries[middle].start < address)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/*
 * Replaces entries [first, last) with `n` pieces (n ≤ 2), keeping the order. With the table full a split has no
 * room for its second piece: the smaller one is dropped and counted.
 */
static void replace(uint32_t first, uint32_t last, const struct lh_mapping *pieces, uint32_t n)
{
    if (n > last - first && count == LH_MAPPING_CAPACITY) {
        uint64_t size0 = page_end(&pieces[0]) - pieces[0].start, size1 = page_end(&pieces[1]) - pieces[1].start;
        struct lh_mapping kept = size0 >= size1 ? pieces[0] : pieces[1];
        LH_COUNT(mapping_drops, 1);
        filter_remove(size0 >= size1 ? &pieces[1] : &pieces[0]);
        replace(first, last, &kept, 1);
        return;
    }
    uint32_t removed = last - first;
    memmove(&entries[first + n], &entries[last], (size_t)(count - last) * sizeof *entries);
    memcpy(&entries[first], pieces, (size_t)n * sizeof *entries);
    count = count - removed + n;
}

/* Cuts [start, end) (page-aligned) out of the table; see lh_mappings_remove. */
static bool cut(uint64_t start, uint64_t end, struct lh_mapping *held, struct lh_mapping *removed, int room, int *removed_count)
{
    uint32_t first = lower_bound(start);
    if (first > 0 && page_end(&entries[first - 1]) > start)
        first--;
    uint32_t last = first;
    while (last < count && entries[last].start < end)
        last++;
    bool found = false;
    if (removed_count)
        *removed_count = 0;
    if (first == last)
        return false;
    struct lh_mapping pieces[2];
    uint32_t n = 0;
    const struct lh_mapping *head = &entries[first], *tail = &entries[last - 1];
    if (head->start < start) /* what lies before the range */
        pieces[n++] = (struct lh_mapping){head->start, head->end < start ? head->end : start, head->sampled_size,
                                          head->generation, head->stack_id, head->alloc_time_ds};
    if (tail->end > end) /* what lies after it */
        pieces[n++] = (struct lh_mapping){end, tail->end, tail->sampled_size, tail->generation, tail->stack_id,
                                          tail->alloc_time_ds};
    for (uint32_t i = first; i < last; i++) {
        if (entries[i].start <= start && start < page_end(&entries[i])) {
            if (held)
                *held = entries[i];
            found = true;
        }
        if (removed && *removed_count < room)
            removed[(*removed_count)++] = entries[i];
        filter_remove(&entries[i]);
        if (page_end(&entries[i]) <= end && entries[i].start >= start)
            LH_COUNT(sampled_frees, 1);
    }
    for (uint32_t k = 0; k < n; k++)
        filter_add(&pieces[k]);
    replace(first, last, pieces, n);
    return found;
}

static bool put(const struct lh_mapping *m)
{
    cut(m->start, page_end(m), NULL, NULL, 0, NULL); /* what is there was unmapped without us seeing it */
    if (count == LH_MAPPING_CAPACITY) {
        LH_COUNT(mapping_drops, 1);
        return false;
    }
    filter_add(m);
    replace(lower_bound(m->start), lower_bound(m->start), m, 1);
    return true;
}

/* ---- the interface ---- */

LH_HIDDEN bool lh_mappings_insert(uintptr_t start, uint64_t length, uint32_t stack_id, uint32_t alloc_time_ds,
                                  uint32_t generation)
{
    if (length == 0 || start % PAGE_BYTES != 0 || start + length < start)
        return false;
    struct lh_mapping m = {start, start + length, length, generation, stack_id, alloc_time_ds};
    pthread_mutex_lock(&table_lock);
    bool inserted = entries != NULL && put(&m);
    pthread_mutex_unlock(&table_lock);
    return inserted;
}

LH_HIDDEN bool lh_mappings_restore(const struct lh_mapping *m)
{
    pthread_mutex_lock(&table_lock);
    bool inserted = entries != NULL && put(m);
    pthread_mutex_unlock(&table_lock);
    return inserted;
}

LH_HIDDEN bool lh_mappings_remove(uintptr_t start, uint64_t length, struct lh_mapping *held,
                                  struct lh_mapping *removed, int removed_room, int *removed_count)
{
    if (removed_count)
        *removed_count = 0;
    if (length == 0 || start % PAGE_BYTES != 0)
        return false;
    uint64_t end = start + length < start ? UINT64_MAX & ~(uint64_t)(PAGE_BYTES - 1)
                                          : (start + length + PAGE_BYTES - 1) & ~(uint64_t)(PAGE_BYTES - 1);
    pthread_mutex_lock(&table_lock);
    bool found = entries != NULL && cut(start, end, held, removed, removed_room, removed_count);
    pthread_mutex_unlock(&table_lock);
    return found;
}

LH_HIDDEN void lh_mappings_for_each(void (*visit)(const struct lh_mapping *, void *), void *context)
{
    pthread_mutex_lock(&table_lock);
    for (uint32_t i = 0; i < count; i++)
        visit(&entries[i], context);
    pthread_mutex_unlock(&table_lock);
}

LH_HIDDEN uint64_t lh_mappings_count(void)
{
    pthread_mutex_lock(&table_lock);
    uint64_t n = count;
    pthread_mutex_unlock(&table_lock);
    return n;
}

LH_HIDDEN void lh_mappings_lock_for_fork(void)
{
    pthread_mutex_lock(&table_lock);
}

LH_HIDDEN void lh_mappings_unlock_after_fork(void)
{
    pthread_mutex_unlock(&table_lock);
}

LH_HIDDEN void lh_mappings_clear(void)
{
    pthread_mutex_lock(&table_lock);
    for (uint32_t i = 0; i < count; i++)
        filter_remove(&entries[i]);
    count = 0;
    pthread_mutex_unlock(&table_lock);
}
