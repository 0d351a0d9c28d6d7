/* Reads of /proc/self with plain syscalls into stack buffers: the writer thread must not allocate. */
#define _GNU_SOURCE
#include "procfs.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static uint64_t kib_field(const char *text, const char *name)
{
    const char *line = strstr(text, name);
    if (!line)
        return 0;
    line += strlen(name);
    while (*line == ' ' || *line == '\t')
        line++;
    uint64_t kib = 0;
    while (*line >= '0' && *line <= '9')
        kib = kib * 10 + (uint64_t)(*line++ - '0');
    return kib * 1024;
}

LH_HIDDEN void lh_procfs_memory(struct lh_process_memory *out)
{
    char text[8192];
    memset(out, 0, sizeof *out);
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    size_t used = 0;
    ssize_t n;
    while (used < sizeof text - 1 && (n = read(fd, text + used, sizeof text - 1 - used)) > 0)
        used += (size_t)n;
    close(fd);
    text[used] = '\0';
    out->vm_size_bytes = kib_field(text, "\nVmSize:");
    out->vm_rss_bytes = kib_field(text, "\nVmRSS:");
    out->rss_anon_bytes = kib_field(text, "\nRssAnon:");
    out->rss_file_bytes = kib_field(text, "\nRssFile:");
    out->rss_shmem_bytes = kib_field(text, "\nRssShmem:");
    out->vm_hwm_bytes = kib_field(text, "\nVmHWM:");
}

LH_HIDDEN int64_t lh_procfs_maps(void (*sink)(const void *, size_t, void *), void *context)
{
    char chunk[16384];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int64_t total = 0;
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) {
        sink(chunk, (size_t)n, context);
        total += n;
    }
    close(fd);
    return total;
}
