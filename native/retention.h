#ifndef LEAKHUNT_RETENTION_H
#define LEAKHUNT_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* Which raw snapshots stay on disk, as a function of the newest sequence number alone (so that a new image
 * after exec() reaches the same decision): all of the first quarter of max_snapshots, all of the most recent
 * quarter, and between them every stride-th, the stride the smallest power of two that keeps the middle
 * within half of max_snapshots. The stride only grows, so a snapshot once deleted is never wanted again.
 * max_snapshots 0 keeps everything; otherwise it is at least 8 (native/limits.json), room for the three parts. */
LH_HIDDEN bool lh_retention_keeps(uint64_t sequence, uint64_t newest, uint64_t max_snapshots);

/* After snapshot `newest` was written: deletes what retention no longer keeps from the pid directory. The
 * first call in a process image sweeps the whole middle (an earlier image may have kept more). */
LH_HIDDEN void lh_retention_apply(int pid_dir_fd, uint64_t newest);

/* The sequence number after the highest NNNNNN.lhs in the directory (0 if none): gaps left by retention
 * are never reused. Reads the directory with getdents64 into a stack buffer: no allocation. */
LH_HIDDEN uint64_t lh_retention_next_sequence(int pid_dir_fd);

#endif
