/* The mapping table: partial munmap (cut, split), insert over a stale entry, the region filter (never a false
 * "not tracked"), capacity and its drops, restore; against a page-by-page reference under random operations. */
#include <string.h>

#include "../mappings.h"
#include "../sampler.h"
#include "harness.h"

#define PAGE 4096u
#define BASE 0x7f0000000000ull

struct collected {
    struct lh_mapping m[LH_MAPPING_CAPACITY];
    int n;
};

static void collect(const struct lh_mapping *m, void *context)
{
    struct collected *c = context;
    c->m[c->n++] = *m;
}

static struct collected *all(void)
{
    static struct collected c;
    c.n = 0;
    lh_mappings_for_each(collect, &c);
    return &c;
}

static void clear(void)
{
    lh_mappings_remove(0, UINT64_MAX & ~(uint64_t)(PAGE - 1), NULL, NULL, 0, NULL);
}

static void insert_remove_and_the_filter(void)
{
    clear();
    CHECK(!lh_mappings_maybe_tracked((void *)(BASE + 64 * PAGE), 16 * PAGE), "empty table: nothing tracked");
    CHECK(lh_mappings_insert(BASE + 64 * PAGE, 16 * PAGE, 7, 3, 0), "insert");
    CHECK(lh_mappings_count() == 1, "count %llu", (unsigned long long)lh_mappings_count());
    CHECK(lh_mappings_maybe_tracked((void *)(BASE + 70 * PAGE), PAGE), "a page inside");
    CHECK(lh_mappings_maybe_tracked((void *)(BASE + 60 * PAGE), 8 * PAGE), "a range across its start");
    CHECK(!lh_mappings_maybe_tracked((void *)(BASE + (1ull << 30)), PAGE), "a range far away");
    struct lh_mapping held;
    CHECK(lh_mappings_remove(BASE + 64 * PAGE, 16 * PAGE, &held, NULL, 0, NULL), "remove finds it");
    CHECK(held.stack_id == 7 && held.alloc_time_ds == 3 && held.sampled_size == 16 * PAGE, "held is the entry");
    CHECK(lh_mappings_count() == 0, "gone");
    CHECK(!lh_mappings_maybe_tracked((void *)(BASE + 70 * PAGE), PAGE), "the filter forgets it");
}

static void partial_munmap_cuts_and_splits(void)
{
    clear();
    /* 10 pages and 100 bytes asked for: 11 pages mapped. */
    uint64_t start = BASE, length = 10 * PAGE + 100;
    lh_mappings_insert(start, length, 1, 0, 0);
    lh_mappings_remove(start, 2 * PAGE, NULL, NULL, 0, NULL); /* the head */
    struct collected *c = all();
    CHECK(c->n == 1 && c->m[0].start == start + 2 * PAGE && c->m[0].end == start + length, "head cut");
    lh_mappings_remove(start + 10 * PAGE, PAGE, NULL, NULL, 0, NULL); /* the last (partial) page */
    c = all();
    CHECK(c->n == 1 && c->m[0].end == start + 10 * PAGE, "tail cut, end %llx", (unsigned long long)c->m[0].end);
    lh_mappings_remove(start + 4 * PAGE, 2 * PAGE, NULL, NULL, 0, NULL); /* a hole */
    c = all();
    CHECK(c->n == 2, "split in two: %d", c->n);
    CHECK(c->m[0].start == start + 2 * PAGE && c->m[0].end == start + 4 * PAGE, "left piece");
    CHECK(c->m[1].start == start + 6 * PAGE && c->m[1].end == start + 10 * PAGE, "right piece");
    CHECK(c->m[0].sampled_size == length && c->m[1].sampled_size == length, "pieces keep the weight of the whole");
    CHECK(c->m[0].stack_id == 1 && c->m[1].stack_id == 1, "and its stack");
    /* munmap across both pieces and beyond */
    struct lh_mapping held;
    CHECK(lh_mappings_remove(start + 3 * PAGE, 100 * PAGE, &held, NULL, 0, NULL), "held");
    c = all();
    CHECK(c->n == 1 && c->m[0].start == start + 2 * PAGE && c->m[0].end == start + 3 * PAGE, "one page left");
    CHECK(!lh_mappings_remove(start + 50 * PAGE, PAGE, &held, NULL, 0, NULL), "nothing there");
    CHECK(!lh_mappings_remove(start + 1, PAGE, &held, NULL, 0, NULL), "an unaligned munmap changes nothing");
    CHECK(all()->n == 1, "still one");
}

static void insert_over_a_stale_entry_replaces_it(void)
{
    clear();
    lh_mappings_insert(BASE, 8 * PAGE, 1, 0, 0);
    lh_mappings_insert(BASE + 2 * PAGE, 2 * PAGE, 2, 0, 0); /* its munmap was missed: the kernel reused the range */
    struct collected *c = all();
    CHECK(c->n == 3, "left, new, right: %d", c->n);
    CHECK(c->m[1].stack_id == 2 && c->m[1].start == BASE + 2 * PAGE, "the new one in the middle");
}

static void restore_puts_back_the_whole(void)
{
    clear();
    lh_mappings_insert(BASE, 8 * PAGE, 1, 5, 0);
    struct lh_mapping removed[4];
    int n = 0;
    lh_mappings_remove(BASE + 2 * PAGE, 2 * PAGE, NULL, removed, 4, &n);
    CHECK(n == 1 && all()->n == 2, "split, one touched");
    lh_mappings_restore(&removed[0]);
    struct collected *c = all();
    CHECK(c->n == 1 && c->m[0].start == BASE && c->m[0].end == BASE + 8 * PAGE && c->m[0].alloc_time_ds == 5, "whole again");
}

static void a_full_table_drops_and_counts(void)
{
    clear();
    uint64_t drops = LH_COUNTER_TOTAL(mapping_drops);
    for (uint64_t i = 0; i < LH_MAPPING_CAPACITY; i++)
        CHECK(lh_mappings_insert(BASE + i * 4 * PAGE, 3 * PAGE, 1, 0, 0), "insert %llu", (unsigned long long)i);
    CHECK(!lh_mappings_insert(BASE + (uint64_t)LH_MAPPING_CAPACITY * 4 * PAGE, PAGE, 1, 0, 0), "full");
    CHECK(LH_COUNTER_TOTAL(mapping_drops) == drops + 1, "a drop counted");
    /* A hole in a full table: the smaller piece goes, counted. */
    lh_mappings_remove(BASE + PAGE, PAGE, NULL, NULL, 0, NULL);
    CHECK(LH_COUNTER_TOTAL(mapping_drops) == drops + 2, "the split's smaller piece dropped");
    CHECK(lh_mappings_count() == LH_MAPPING_CAPACITY, "still full");
    clear();
    CHECK(lh_mappings_count() == 0, "emptied");
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* Random mmaps (over whatever is there) and munmaps of random ranges in a window of WINDOW pages across several
 * 2 MiB regions; after each, the table must say page by page what a reference says, and the filter must never say
 * "nothing tracked" for a range with a tracked page. */
static void matches_a_page_reference(void)
{
    clear();
    enum { WINDOW = 2048 };
    static uint32_t owner[WINDOW]; /* 0: untracked, else the stack id + 1 */
    memset(owner, 0, sizeof owner);
    uint64_t seed = 0x9876543;
    int mismatches = 0, false_negatives = 0;
    for (int step = 0; step < 20000; step++) {
        uint64_t first = xorshift(&seed) % WINDOW;
        uint64_t pages = 1 + xorshift(&seed) % 64;
        if (first + pages > WINDOW)
            pages = WINDOW - first;
        if (xorshift(&seed) % 3 == 0) {
            uint32_t id = (uint32_t)(step % 1000);
            lh_mappings_insert(BASE + first * PAGE, pages * PAGE, id, 0, 0);
            for (uint64_t p = first; p < first + pages; p++)
                owner[p] = id + 1;
        } else {
            bool tracked = false;
            for (uint64_t p = first; p < first + pages; p++)
                tracked |= owner[p] != 0;
            if (tracked && !lh_mappings_maybe_tracked((void *)(BASE + first * PAGE), pages * PAGE))
                false_negatives++;
            lh_mappings_remove(BASE + first * PAGE, pages * PAGE, NULL, NULL, 0, NULL);
            for (uint64_t p = first; p < first + pages; p++)
                owner[p] = 0;
        }
        if (step % 97 != 0)
            continue;
        static uint32_t seen[WINDOW];
        memset(seen, 0, sizeof seen);
        struct collected *c = all();
        for (int i = 0; i < c->n; i++) {
            if (i > 0 && c->m[i].start < c->m[i - 1].end)
                mismatches++; /* sorted, no overlap */
            for (uint64_t a = c->m[i].start; a < c->m[i].end; a += PAGE)
                seen[(a - BASE) / PAGE] = c->m[i].stack_id + 1;
        }
        if (memcmp(seen, owner, sizeof seen) != 0)
            mismatches++;
    }
    CHECK(mismatches == 0, "%d mismatches with the reference", mismatches);
    CHECK(false_negatives == 0, "%d ranges with tracked pages the filter said were untracked", false_negatives);
    clear();
}

int main(void)
{
    lh_sampler_configure(4096);
    if (!lh_mappings_init()) {
        fprintf(stderr, "cannot map the table\n");
        return 1;
    }
    RUN(insert_remove_and_the_filter);
    RUN(partial_munmap_cuts_and_splits);
    RUN(insert_over_a_stale_entry_replaces_it);
    RUN(restore_puts_back_the_whole);
    RUN(a_full_table_drops_and_counts);
    RUN(matches_a_page_reference);
    return HARNESS_SUMMARY();
}
