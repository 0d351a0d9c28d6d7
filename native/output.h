#ifndef LEAKHUNT_OUTPUT_H
#define LEAKHUNT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shim.h"

/*
 * The snapshot file being written: a 64 KiB buffer mapped once (the writer never allocates), and records whose
 * lengths are patched with pwrite() once their payload has been streamed. One file at a time, writer only.
 */
LH_HIDDEN bool out_init(void);
LH_HIDDEN void out_start(int fd);
/* Flushes what is buffered; false if any write failed since out_start. The caller closes the descriptor. */
LH_HIDDEN bool out_finish(void);

LH_HIDDEN void out_put(const void *data, size_t bytes);
LH_HIDDEN void out_u32(uint32_t value);
LH_HIDDEN void out_u64(uint64_t value);
LH_HIDDEN void out_f64(double value);
/* out_put with the shape procfs.c and unloaded.c stream into. */
LH_HIDDEN void out_sink(const void *data, size_t bytes, void *context);

/* Starts a record (type, length placeholder); returns where its payload starts. */
LH_HIDDEN off_t out_begin_record(uint32_t type);
LH_HIDDEN void out_end_record(off_t payload_start);
LH_HIDDEN off_t out_position(void);
/* Overwrites a u32 already written at file offset `at` (counts known only after streaming). */
LH_HIDDEN void out_patch_u32(off_t at, uint32_t value);

#endif
