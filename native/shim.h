/*
 * Declarations shared by the shim's files. Everything here is internal (hidden visibility): the only
 * symbols the library exports are the malloc family in interpose.c.
 */
#ifndef LEAKHUNT_SHIM_H
#define LEAKHUNT_SHIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LH_HIDDEN __attribute__((visibility("hidden")))
#define LH_EXPORT __attribute__((visibility("default")))
#define LH_LIKELY(x) __builtin_expect(!!(x), 1)
#define LH_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Whether the shim records. STARTING covers the time before our constructor ran (ld.so and earlier
 * constructors already allocate); OFF is final for this process image (forked child, bad config, setuid). */
enum lh_run_state { LH_STARTING = 0, LH_ON = 1, LH_OFF = 2 };
extern LH_HIDDEN _Atomic int lh_run_state;

/* How native stacks are captured (LEAKHUNT_UNWINDER). TABLES: the shim's own tables, libgcc where they cannot
 * say; LIBGCC: libgcc's _Unwind_Backtrace only; BOTH: each sample with both, libgcc's kept, differences counted. */
enum lh_unwinder { LH_UNWINDER_TABLES = 0, LH_UNWINDER_LIBGCC = 1, LH_UNWINDER_BOTH = 2 };

/* Settings read once from LEAKHUNT_* in the constructor (config.c); constant afterwards. */
struct lh_config {
    int raw_dir_fd;                 /* the run's raw directory, opened O_DIRECTORY|O_NOFOLLOW */
    uint64_t sample_interval_bytes; /* mean of the Poisson sampling gaps; 1 = record everything */
    uint64_t snapshot_interval_ms;
    uint64_t table_capacity;        /* most live sampled blocks kept */
    uint64_t max_stacks;
    uint64_t max_snapshots;         /* raw snapshots kept on disk (retention.c); 0 = all */
    uint32_t max_stack_depth;
    bool seed_given;
    uint64_t seed;
    bool follow_children;
    bool java_stacks;               /* the JVM agent records Java frames */
    int unwinder;                   /* enum lh_unwinder: how native stacks are captured */
};
extern LH_HIDDEN struct lh_config lh_config;

/* Counters written into every snapshot. Updated with relaxed atomics on sampled paths only. */
struct lh_counters {
    _Atomic uint64_t samples;
    _Atomic uint64_t sampled_frees;
    _Atomic uint64_t table_drops;
    _Atomic uint64_t thinned_entries;
    _Atomic uint64_t thinning_rounds;
    _Atomic uint64_t stack_drops;
    _Atomic uint64_t missed_frees;
    _Atomic uint64_t mapped_bytes;
    _Atomic uint64_t snapshots_written;
    _Atomic uint64_t write_errors;
    _Atomic uint64_t java_stacks;         /* samples that got Java frames */
    _Atomic uint64_t java_stack_failures; /* AsyncGetCallTrace said no (negative frame count) */
    _Atomic uint64_t fast_unwinds;        /* samples whose native stack the shim's own tables captured */
    _Atomic uint64_t unwind_mismatches;   /* LEAKHUNT_UNWINDER=both: samples where the two unwinders differ */
};
extern LH_HIDDEN struct lh_counters lh_counters;

/* Anonymous memory for the shim's own tables: never from the target's allocator, so the shim neither
 * recurses into itself nor shows up in the target's malloc statistics. Counted in mapped_bytes. */
LH_HIDDEN void *lh_map_memory(size_t bytes);

/* How much of the shim's own mapped memory is resident now (only the writer thread calls it). */
LH_HIDDEN uint64_t lh_resident_bytes(void);

/* Monotonic time since the shim started, for allocation ages. */
LH_HIDDEN uint64_t lh_monotonic_ns(void);
/* The same clock at tick resolution, cheaper (platform.c): up to a tick behind lh_monotonic_ns. */
LH_HIDDEN uint64_t lh_coarse_monotonic_ns(void);
extern LH_HIDDEN uint64_t lh_start_monotonic_ns;
extern LH_HIDDEN uint64_t lh_start_realtime_ns;

#endif
