/* The smaps parser of the RESIDENT record: canned text fed in chunks of every size, then this process's own smaps
 * with mappings whose resident pages and guard are known. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../resident.h"
#include "harness.h"

#define MAX_SEEN 4096

struct seen {
    struct lh_resident_entry entries[MAX_SEEN];
    int count;
};

static void collect(const struct lh_resident_entry *e, void *context)
{
    struct seen *s = context;
    if (s->count < MAX_SEEN)
        s->entries[s->count++] = *e;
}

static const char canned[] =
    "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]\n"
    "Size:                132 kB\n"
    "KernelPageSize:        4 kB\n"
    "Rss:                   8 kB\n"
    "Pss:                   8 kB\n"
    "VmFlags: rd wr mr mw me ac sd \n"
    "7f28ec000000-7f28ec004000 ---p 00000000 00:00 0 \n"
    "Size:                 16 kB\n"
    "Rss:                   0 kB\n"
    "VmFlags: mr mw me nr sd \n"
    "7f28ec004000-7f28ec100000 rw-p 00000000 00:00 0 \n"
    "Size:               1008 kB\n"
    "Rss:                  52 kB\n"
    "Anonymous:            52 kB\n"
    "VmFlags: rd wr mr mw me ac sd \n"
    "7f28ed000000-7f28ed001000 r-xp 00002000 08:01 1234567                    /usr/lib/x86_64-linux-gnu/libz.so.1.2.13\n"
    "Size:                  4 kB\n"
    "Rss:                   4 kB\n"
    "VmFlags: rd ex mr mw me sd \n"
    "7f28ed001000-7f28ed002000 rwxp 00000000 00:00 0 \n"
    "Size:                  4 kB\n"
    "Rss:                   0 kB\n"
    "7f2900000000-7f2900021000 rw-p 00000000 00:00 0 \n"
    "Size:                132 kB\n"
    "Rss:                  16 kB\n"
    "7f2900021000-7f2904000000 ---p 00000000 00:00 0 \n"
    "Size:                  4 kB\n"
    "Rss:                   0 kB\n"
    "VmFlags: rd wr ex mr mw me ac sd \n"
    "7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0                          [stack]\n"
    "Size:                132 kB\n"
    "Rss:                  20 kB\n"
    "7ffd1c100000-7ffd1c102000 r--p 00000000 00:00 0                          [vvar]\n"
    "Size:                  8 kB\n"
    "Rss:                   0 kB\n"
    "7ffd1c102000-7ffd1c104000 r-xp 00000000 00:00 0                          [vdso]\n"
    "Size:                  8 kB\n"
    "Rss:                   4 kB\n"
    "7ffd1c200000-7ffd1c202000 rw-s 00000000 00:01 88                         /memfd:java_heap (deleted)\n"
    "Size:                  8 kB\n"
    "Rss:                   8 kB";

static void check_canned(const struct seen *s, const struct lh_smaps_parser *p, size_t step)
{
    CHECK(p->mappings == 11, "11 mappings (step %zu), not %u", step, p->mappings);
    CHECK(p->entries == 7 && s->count == 7, "7 resident mappings (step %zu), not %u/%d", step, p->entries, s->count);
    CHECK(p->total_rss_bytes == (8 + 52 + 4 + 16 + 20 + 4 + 8) * 1024u, "total Rss (step %zu): %llu", step,
          (unsigned long long)p->total_rss_bytes);
    if (s->count < 7)
        return;
    const struct lh_resident_entry *arena = &s->entries[3];
    CHECK(arena->start == 0x7f2900000000ull && arena->reserved_above_bytes == 0x7f2904000000ull - 0x7f2900021000ull,
          "an arena's heap and the reserved rest of its 64 MiB above it (step %zu): %u", step, arena->reserved_above_bytes);
    const struct lh_resident_entry *heap = &s->entries[0], *stack = &s->entries[1], *lib = &s->entries[2];
    CHECK(heap->start == 0x55d0c0a00000ull && heap->end == 0x55d0c0a21000ull && heap->rss_bytes == 8192,
          "the [heap] range and Rss (step %zu)", step);
    CHECK(heap->flags == (LH_RESIDENT_READ | LH_RESIDENT_WRITE | LH_RESIDENT_HEAP), "[heap] flags %x", heap->flags);
    CHECK(stack->guard_below_bytes == 16384, "a thread stack's guard below it: %u", stack->guard_below_bytes);
    CHECK(stack->flags == (LH_RESIDENT_READ | LH_RESIDENT_WRITE), "an anonymous rw-p mapping: %x", stack->flags);
    CHECK(heap->reserved_above_bytes == 0 && stack->reserved_above_bytes == 0, "nothing inaccessible above them");
    CHECK(lib->flags == (LH_RESIDENT_READ | LH_RESIDENT_EXEC | LH_RESIDENT_FILE) && lib->guard_below_bytes == 0,
          "a library's text: %x, guard %u", lib->flags, lib->guard_below_bytes);
    CHECK(s->entries[4].flags & LH_RESIDENT_STACK, "[stack]");
    CHECK(s->entries[5].flags & LH_RESIDENT_SPECIAL, "[vdso]");
    CHECK((s->entries[6].flags & (LH_RESIDENT_FILE | LH_RESIDENT_SHARED)) == (LH_RESIDENT_FILE | LH_RESIDENT_SHARED),
          "a shared memfd mapping is file-backed and shared (no newline at the end)");
}

static void test_canned_text_in_every_chunk_size(void)
{
    static struct seen s;
    struct lh_smaps_parser p;
    for (size_t step = 1; step <= sizeof canned; step += step < 40 ? 1 : 97) {
        memset(&s, 0, sizeof s);
        lh_smaps_begin(&p, collect, &s);
        for (size_t at = 0; at < sizeof canned - 1; at += step) {
            size_t n = sizeof canned - 1 - at < step ? sizeof canned - 1 - at : step;
            lh_smaps_feed(&p, canned + at, n);
        }
        lh_smaps_end(&p);
        check_canned(&s, &p, step);
    }
}

static void test_long_lines_are_cut_not_overrun(void)
{
    static char text[8192];
    static struct seen s;
    memset(&s, 0, sizeof s);
    size_t n = (size_t)snprintf(text, sizeof text, "1000-3000 r--p 00000000 08:01 42 /");
    memset(text + n, 'x', 6000);
    n += 6000;
    n += (size_t)snprintf(text + n, sizeof text - n, "\nRss: 8 kB\n");
    struct lh_smaps_parser p;
    lh_smaps_begin(&p, collect, &s);
    lh_smaps_feed(&p, text, n);
    lh_smaps_end(&p);
    CHECK(s.count == 1 && s.entries[0].rss_bytes == 8192 && (s.entries[0].flags & LH_RESIDENT_FILE),
          "a path longer than the line buffer: %d entries", s.count);
}

/* A mapping that changed between two of the kernel's chunks is printed again from below where the last one ended
 * (a merge, a grown heap): it is left out, so the record stays ascending and disjoint, as FORMAT.md promises. */
static void test_a_mapping_read_again_is_left_out(void)
{
    static const char text[] =
        "1000-3000 rw-p 00000000 00:00 0 \n"
        "Rss: 8 kB\n"
        "5000-6000 rw-p 00000000 00:00 0 \n"
        "Rss: 4 kB\n"
        "4000-9000 rw-p 00000000 00:00 0 \n"
        "Rss: 12 kB\n"
        "9000-a000 rw-p 00000000 00:00 0 \n"
        "Rss: 4 kB\n";
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct lh_smaps_parser p;
    lh_smaps_begin(&p, collect, &s);
    lh_smaps_feed(&p, text, sizeof text - 1);
    lh_smaps_end(&p);
    CHECK(s.count == 3, "%d entries", s.count);
    for (int i = 1; i < s.count; i++)
        CHECK(s.entries[i].start >= s.entries[i - 1].end, "entry %d starts below the one before", i);
    CHECK(s.count == 3 && s.entries[2].start == 0x9000 && p.total_rss_bytes == 16 * 1024,
          "the mapping read again is not counted: %llu bytes", (unsigned long long)p.total_rss_bytes);
}

/* This process's smaps: a region with a one-page guard below it, of which 3 pages are touched. Readable pages on
 * either side keep the kernel from merging the region or its guard with a neighbour. */
static void test_own_smaps(void)
{
    static struct seen s;
    static char buffer[16384];
    memset(&s, 0, sizeof s);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *region = mmap(NULL, page * 17, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED, "mmap");
    if (region == MAP_FAILED)
        return;
    char *stack = region + 2 * page;
    CHECK(mprotect(region + page, page, PROT_NONE) == 0, "mprotect the guard");
    CHECK(mprotect(stack, page * 14, PROT_READ | PROT_WRITE) == 0, "mprotect the stack");
    for (size_t i = 0; i < 3; i++)
        stack[page * (13 - i)] = 1;
    struct lh_smaps_parser p;
    lh_smaps_begin(&p, collect, &s);
    int fd = open("/proc/self/smaps", O_RDONLY);
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0)
        lh_smaps_feed(&p, buffer, (size_t)n);
    close(fd);
    lh_smaps_end(&p);
    const struct lh_resident_entry *found = NULL;
    for (int i = 0; i < s.count; i++)
        if (s.entries[i].start == (uint64_t)(uintptr_t)stack)
            found = &s.entries[i];
    CHECK(found != NULL, "the touched region is listed");
    if (found) {
        CHECK(found->rss_bytes == page * 3, "3 pages resident: %llu", (unsigned long long)found->rss_bytes);
        CHECK(found->guard_below_bytes == page, "a one-page guard below: %u", found->guard_below_bytes);
        CHECK(found->end == (uint64_t)(uintptr_t)(stack + page * 14), "its end");
        CHECK(found->reserved_above_bytes == 0, "readable pages above it are no reserve: %u", found->reserved_above_bytes);
    }
    CHECK(p.mappings > (uint32_t)s.count, "mappings without resident pages are counted but not listed");
    munmap(region, page * 17);
}

static void test_budget(void)
{
    CHECK(lh_resident_due(false, 1000), "the first snapshot reads smaps");
    CHECK(lh_resident_due(true, 1000), "the final one always does");
}

int main(void)
{
    RUN(test_canned_text_in_every_chunk_size);
    RUN(test_long_lines_are_cut_not_overrun);
    RUN(test_a_mapping_read_again_is_left_out);
    RUN(test_own_smaps);
    RUN(test_budget);
    return HARNESS_SUMMARY();
}
