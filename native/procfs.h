#ifndef LEAKHUNT_PROCFS_H
#define LEAKHUNT_PROCFS_H

#include <stdint.h>

#include "shim.h"

struct lh_process_memory {
    uint64_t vm_size_bytes, vm_rss_bytes, rss_anon_bytes, rss_file_bytes, rss_shmem_bytes, vm_hwm_bytes;
};

/* Parses /proc/self/status; fields it cannot find stay 0. No allocation. */
LH_HIDDEN void lh_procfs_memory(struct lh_process_memory *out);

/* Streams /proc/self/maps to sink() in chunks; returns the bytes passed, or -1 if it cannot be opened. */
LH_HIDDEN int64_t lh_procfs_maps(void (*sink)(const void *, size_t, void *), void *context);

#endif
