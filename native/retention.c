/*
 * Snapshot retention: disk stays bounded however long the target runs (documented in native/FORMAT.md).
 *
 * A leak shows as growth over the whole run, so what matters is the start (the baseline, and the warm-up),
 * the latest state, and an even coverage in between; the middle can be thinned without losing the trend.
 * Thinning by doubling a stride keeps the middle evenly spaced, each decision depends only on the newest
 * sequence number, and the work per snapshot is one unlink at most except when the stride doubles.
 */
#define _GNU_SOURCE
#include "retention.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

struct layout {
    uint64_t early;  /* sequences [0, early) are kept */
    uint64_t recent; /* sequences (newest - recent, newest] are kept */
    uint64_t middle; /* most kept between them */
};

static struct layout layout_of(uint64_t max_snapshots)
{
    uint64_t early = max_snapshots / 4, recent = max_snapshots / 4;
    return (struct layout){early, recent, max_snapshots - early - recent};
}

/* The smallest power of two s with at most `middle` multiples of s (counted from `early`) in the middle. */
static uint64_t stride_for(uint64_t newest, struct layout l)
{
    if (newest < l.early + l.recent)
        return 1;
    uint64_t span = newest - l.recent - l.early + 1; /* sequences in the middle */
    uint64_t stride = 1;
    while ((span + stride - 1) / stride > l.middle)
        stride *= 2;
    return stride;
}

LH_HIDDEN bool lh_retention_keeps(uint64_t sequence, uint64_t newest, uint64_t max_snapshots)
{
    if (max_snapshots == 0 || sequence > newest)
        return true;
    struct layout l = layout_of(max_snapshots);
    if (sequence < l.early || newest - sequence < l.recent)
        return true;
    return (sequence - l.early) % stride_for(newest, l) == 0;
}

static void remove_snapshot(int dir_fd, uint64_t sequence)
{
    char name[32];
    snprintf(name, sizeof name, "%06llu.lhs", (unsigned long long)sequence);
    unlinkat(dir_fd, name, 0); /* already gone is fine */
}

static uint64_t previous_newest = UINT64_MAX; /* UINT64_MAX: no pass yet in this image */

LH_HIDDEN void lh_retention_apply(int pid_dir_fd, uint64_t newest)
{
    uint64_t max = lh_config.max_snapshots;
    if (max == 0)
        return;
    struct layout l = layout_of(max);
    uint64_t previous = previous_newest;
    previous_newest = newest;
    if (newest < l.early + l.recent)
        return;
    uint64_t middle_end = newest - l.recent; /* the newest middle sequence: it just left the recent window */
    uint64_t stride = stride_for(newest, l);
    uint64_t from = l.early, step = 1;
    if (previous != UINT64_MAX && previous < newest) {
        uint64_t old_stride = stride_for(previous, l);
        if (stride != old_stride)
            step = old_stride; /* only multiples of the old stride are still on disk */
        else if (previous >= l.recent && previous - l.recent + 1 > from)
            from = previous - l.recent + 1; /* only what left the recent window since the last pass */
    }
    for (uint64_t s = from; s <= middle_end; s += step)
        if ((s - l.early) % stride != 0)
            remove_snapshot(pid_dir_fd, s);
}

LH_HIDDEN uint64_t lh_retention_next_sequence(int pid_dir_fd)
{
    /* A duplicate descriptor: getdents64 moves the offset, and the writer's descriptor is shared. */
    int fd = openat(pid_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t next = 0;
    char buffer[4096] __attribute__((aligned(8)));
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buffer, sizeof buffer);
        if (got <= 0)
            break;
        for (long offset = 0; offset < got;) {
            const struct dirent64 *entry = (const struct dirent64 *)(buffer + offset);
            offset += entry->d_reclen;
            const char *name = entry->d_name;
            uint64_t sequence = 0;
            int digits = 0;
            while (name[digits] >= '0' && name[digits] <= '9' && digits < 19)
                sequence = sequence * 10 + (uint64_t)(name[digits++] - '0');
            /* NNNNNN.lhs exactly: a leftover .lhs.tmp was never a snapshot */
            if (digits >= 6 && name[digits] == '.' && name[digits + 1] == 'l' && name[digits + 2] == 'h' &&
                name[digits + 3] == 's' && name[digits + 4] == '\0' && sequence + 1 > next)
                next = sequence + 1;
        }
    }
    close(fd);
    return next;
}
