/* Buffered output of one snapshot file, with record lengths patched after their payload (see output.h). */
#define _GNU_SOURCE
#include "output.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define OUT_BUFFER_BYTES (64u * 1024u)

static struct {
    int fd;
    char *buffer;
    size_t used;
    off_t flushed; /* file offset of buffer[0] */
    bool failed;
} out = {.fd = -1};

LH_HIDDEN bool out_init(void)
{
    out.buffer = lh_map_memory(OUT_BUFFER_BYTES);
    return out.buffer != NULL;
}

LH_HIDDEN void out_start(int fd)
{
    out.fd = fd;
    out.used = 0;
    out.flushed = 0;
    out.failed = false;
}

static void flush(void)
{
    size_t done = 0;
    while (!out.failed && done < out.used) {
        ssize_t n = write(out.fd, out.buffer + done, out.used - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            out.failed = true;
        else
            done += (size_t)n;
    }
    out.flushed += (off_t)out.used;
    out.used = 0;
}

LH_HIDDEN bool out_finish(void)
{
    flush();
    return !out.failed;
}

LH_HIDDEN void out_put(const void *data, size_t bytes)
{
    const char *p = data;
    while (bytes > 0) {
        if (out.used == OUT_BUFFER_BYTES)
            flush();
        size_t room = OUT_BUFFER_BYTES - out.used;
        size_t n = bytes < room ? bytes : room;
        memcpy(out.buffer + out.used, p, n);
        out.used += n;
        p += n;
        bytes -= n;
    }
}

LH_HIDDEN void out_u32(uint32_t value) { out_put(&value, sizeof value); }
LH_HIDDEN void out_u64(uint64_t value) { out_put(&value, sizeof value); }
LH_HIDDEN void out_f64(double value) { out_put(&value, sizeof value); }

LH_HIDDEN void out_sink(const void *data, size_t bytes, void *context)
{
    (void)context;
    out_put(data, bytes);
}

LH_HIDDEN off_t out_position(void)
{
    return out.flushed + (off_t)out.used;
}

LH_HIDDEN off_t out_begin_record(uint32_t type)
{
    out_u32(type);
    out_u32(0);
    return out_position();
}

LH_HIDDEN void out_patch_u32(off_t at, uint32_t value)
{
    flush();
    if (!out.failed && pwrite(out.fd, &value, sizeof value, at) != sizeof value)
        out.failed = true;
}

LH_HIDDEN void out_end_record(off_t payload_start)
{
    out_patch_u32(payload_start - 4, (uint32_t)(out_position() - payload_start));
}
