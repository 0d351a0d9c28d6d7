/*
 * Resident memory by mapping: the RESIDENT record of a snapshot (native/FORMAT.md), from /proc/self/smaps, read by
 * the writer thread. The CLI splits RSS into parts with it (Java heap, thread stacks, mapped files, malloc's
 * arenas, …: src/analyse/resident.ts); the shim only ships, per mapping that holds resident pages, its range, its
 * resident bytes, a few flags and the sizes of inaccessible mappings right below and above it. The ranges that only
 * the JVM knows (its heap, code cache, class space) are the CLI's to apply, so the record stays the same whatever
 * they turn out to be, and a JVM with thousands of mappings costs 40 bytes per mapping that is resident.
 *
 * Cost: not on any path of the target's threads. The kernel formats about 25 lines per mapping for smaps, and that
 * is most of the price: about 2 µs of the writer's CPU per mapping (8 ms for a JVM with 4,200 mappings), while it
 * holds the target's mmap lock for reading one chunk at a time. So a snapshot reads smaps only when the time since
 * the last reading is at least LH_RESIDENT_COST_RATIO times what that reading cost (its share of a CPU stays under
 * 0.25%); the first and the final snapshot always do. Snapshots in between carry no RESIDENT record: at the
 * default interval (10 s) that is none of them, at 500 ms on a JVM with 4,200 mappings every 7th snapshot reads.
 * The parser allocates nothing: a chunk and a line buffer in the library's own data, used under the snapshot
 * writer's lock.
 */
#define _GNU_SOURCE
#include "resident.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "procfs.h"

#define ENTRY_BYTES 40u
#define FLAG_UNREADABLE 1u

static uint64_t last_read_ns;
static uint64_t last_cost_ns;
static char chunk[16384];
static struct lh_smaps_parser parser;

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

static uint64_t hex_value(const char **s, const char *end)
{
    uint64_t v = 0;
    while (*s < end && is_hex(**s)) {
        char c = *(*s)++;
        v = v * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return v;
}

static uint64_t decimal_value(const char **s, const char *end)
{
    uint64_t v = 0;
    while (*s < end && **s >= '0' && **s <= '9')
        v = v * 10 + (uint64_t)(*(*s)++ - '0');
    return v;
}

static void skip_spaces(const char **s, const char *end)
{
    while (*s < end && (**s == ' ' || **s == '\t'))
        (*s)++;
}

static bool starts_with(const char *s, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - s) >= n && memcmp(s, prefix, n) == 0;
}

/* "start-end perms offset dev inode [path]": false if the line is not one. */
static bool parse_header(const char *s, const char *end, struct lh_resident_entry *e)
{
    memset(e, 0, sizeof *e);
    e->start = hex_value(&s, end);
    if (s >= end || *s++ != '-')
        return false;
    e->end = hex_value(&s, end);
    if (end - s < 5 || *s++ != ' ')
        return false;
    e->flags |= (s[0] == 'r' ? LH_RESIDENT_READ : 0) | (s[1] == 'w' ? LH_RESIDENT_WRITE : 0) |
                (s[2] == 'x' ? LH_RESIDENT_EXEC : 0) | (s[3] == 's' ? LH_RESIDENT_SHARED : 0);
    s += 4;
    skip_spaces(&s, end);
    hex_value(&s, end); /* offset */
    skip_spaces(&s, end);
    while (s < end && *s != ' ') /* device */
        s++;
    skip_spaces(&s, end);
    uint64_t inode = decimal_value(&s, end);
    skip_spaces(&s, end);
    if (inode != 0 || (s < end && *s == '/'))
        e->flags |= LH_RESIDENT_FILE;
    else if (starts_with(s, end, "[heap]"))
        e->flags |= LH_RESIDENT_HEAP;
    else if (starts_with(s, end, "[stack]"))
        e->flags |= LH_RESIDENT_STACK;
    else if (s < end && *s == '[')
        e->flags |= LH_RESIDENT_SPECIAL;
    return e->end > e->start;
}

static bool is_guard(const struct lh_resident_entry *e)
{
    return (e->flags & (LH_RESIDENT_READ | LH_RESIDENT_WRITE | LH_RESIDENT_EXEC | LH_RESIDENT_SHARED |
                        LH_RESIDENT_FILE | LH_RESIDENT_HEAP | LH_RESIDENT_STACK | LH_RESIDENT_SPECIAL)) == 0;
}

static uint32_t capped(uint64_t bytes) { return bytes >= UINT32_MAX ? UINT32_MAX : (uint32_t)bytes; }

static void emit_pending(struct lh_smaps_parser *p)
{
    if (p->have_pending)
        p->emit(&p->pending, p->context);
    p->have_pending = false;
}

/* The current mapping is complete: it tells the pending one what lies above it, then waits its own turn. */
static void finish_mapping(struct lh_smaps_parser *p)
{
    if (!p->have_mapping)
        return;
    struct lh_resident_entry *e = &p->current;
    if (p->have_pending && is_guard(e) && p->pending.end == e->start)
        p->pending.reserved_above_bytes = capped(e->end - e->start);
    emit_pending(p);
    p->mappings++;
    p->total_rss_bytes += e->rss_bytes;
    if (e->rss_bytes > 0) {
        p->entries++;
        p->pending = *e;
        p->have_pending = true;
    }
    p->previous_end = e->end;
    p->previous_size = e->end - e->start;
    p->previous_is_guard = is_guard(e);
    p->have_mapping = false;
}

static void parse_line(struct lh_smaps_parser *p, const char *s, const char *end)
{
    if (s < end && is_hex(*s)) {
        struct lh_resident_entry e;
        if (!parse_header(s, end, &e))
            return;
        finish_mapping(p);
        /* The kernel reads smaps a chunk at a time, resuming after the last mapping it printed; a mapping that grew
         * or merged in between comes again, starting below that point. Its pages were counted with the first
         * reading, or are in flux: it is left out, so the record's ranges stay ascending and disjoint. */
        if (e.start < p->previous_end)
            return;
        if (p->previous_is_guard && p->previous_end == e.start)
            e.guard_below_bytes = capped(p->previous_size);
        p->current = e;
        p->have_mapping = true;
    } else if (p->have_mapping && starts_with(s, end, "Rss:")) {
        s += 4;
        skip_spaces(&s, end);
        p->current.rss_bytes = decimal_value(&s, end) * 1024;
    }
}

LH_HIDDEN void lh_smaps_begin(struct lh_smaps_parser *p, void (*emit)(const struct lh_resident_entry *, void *),
                              void *context)
{
    memset(p, 0, sizeof *p);
    p->emit = emit;
    p->context = context;
}

LH_HIDDEN void lh_smaps_feed(struct lh_smaps_parser *p, const char *data, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        char c = data[i];
        if (c == '\n') {
            parse_line(p, p->line, p->line + p->line_bytes);
            p->line_bytes = 0;
        } else if (p->line_bytes < sizeof p->line) {
            p->line[p->line_bytes++] = c;
        }
    }
}

LH_HIDDEN void lh_smaps_end(struct lh_smaps_parser *p)
{
    if (p->line_bytes > 0)
        parse_line(p, p->line, p->line + p->line_bytes);
    p->line_bytes = 0;
    finish_mapping(p);
    emit_pending(p);
}

LH_HIDDEN bool lh_resident_due(bool is_final, uint64_t now_ns)
{
    return is_final || last_read_ns == 0 || now_ns - last_read_ns >= last_cost_ns * LH_RESIDENT_COST_RATIO;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void put_entry(const struct lh_resident_entry *e, void *context)
{
    (void)context;
    out_u64(e->start);
    out_u64(e->end);
    out_u64(e->rss_bytes);
    out_u32(e->flags);
    out_u32(e->guard_below_bytes);
    out_u32(e->reserved_above_bytes);
    out_u32(0);
}

static void patch_u64(off_t at, uint64_t value)
{
    out_patch_u32(at, (uint32_t)value);
    out_patch_u32(at + 4, (uint32_t)(value >> 32));
}

/* /proc/thread-self first: /proc/self/smaps is empty once the thread-group leader has exited (pthread_exit in main). */
static int open_smaps(void)
{
    int fd = open("/proc/thread-self/smaps", O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? fd : open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
}

static uint64_t status_rss_bytes(void)
{
    struct lh_process_memory memory;
    lh_procfs_memory(&memory);
    return memory.vm_rss_bytes;
}

LH_HIDDEN void lh_resident_write(uint64_t now_ns)
{
    uint64_t cpu_before = thread_cpu_ns();
    /* VmRSS right before and right after the walk: what the mappings' sum is checked against (a program that touches
     * its memory fast moves on while the walk runs, and the kernel's counter lags a few pages per CPU). */
    uint64_t rss_before = status_rss_bytes();
    off_t header = out_position();
    out_u64(0); /* read_cpu_ns */
    out_u64(0); /* thread_cpu_ns */
    out_u64(0); /* total_rss_bytes */
    out_u32(0); /* mapping_count */
    out_u32(0); /* entry_count */
    out_u32(ENTRY_BYTES);
    out_u32(0); /* flags */
    out_u64(rss_before);
    out_u64(0); /* status_rss_after_bytes */
    lh_smaps_begin(&parser, put_entry, NULL);
    int fd = open_smaps();
    bool complete = fd >= 0;
    if (fd >= 0) {
        ssize_t n;
        while ((n = read(fd, chunk, sizeof chunk)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                complete = false;
                break;
            }
            lh_smaps_feed(&parser, chunk, (size_t)n);
        }
        close(fd);
    }
    lh_smaps_end(&parser);
    uint64_t cpu_after = thread_cpu_ns();
    last_read_ns = now_ns;
    last_cost_ns = cpu_after - cpu_before;
    patch_u64(header, cpu_after - cpu_before);
    patch_u64(header + 8, cpu_after);
    patch_u64(header + 16, parser.total_rss_bytes);
    out_patch_u32(header + 24, parser.mappings);
    out_patch_u32(header + 28, parser.entries);
    out_patch_u32(header + 36, complete && parser.mappings > 0 ? 0 : FLAG_UNREADABLE);
    patch_u64(header + 48, status_rss_bytes());
}
