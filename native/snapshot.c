/*
 * One snapshot (format: native/FORMAT.md): the live sampled blocks aggregated per stack, the stacks, the
 * counters, the allocator's and the process's memory figures and the maps, as one self-contained file:
 * NNNNNN.lhs.tmp, then rename(). A reader sees either the whole file or none of it, even if the target is
 * killed mid-write. When snapshots are taken is writer.c's business.
 *
 * It allocates nothing from the target's heap: buffers are mapped once at start; the file itself goes through
 * output.c, which patches record lengths not known in advance (maps, stacks, sites) after their payload.
 */
#define _GNU_SOURCE
#include "snapshot.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "liveness.h"
#include "mappings.h"
#include "methods.h"
#include "output.h"
#include "procfs.h"
#include "resident.h"
#include "retention.h"
#include "sampler.h"
#include "stacks.h"
#include "state.h"
#include "unloaded.h"

enum record_type {
    RECORD_META = 1,
    RECORD_COUNTERS = 2,
    RECORD_MALLINFO = 3,
    RECORD_PROCESS_MEMORY = 4,
    RECORD_MAPS = 5,
    RECORD_STACKS = 6,
    RECORD_SITES = 7,
    RECORD_JAVA_METHODS = 8,
    RECORD_JEMALLOC = 9,
    RECORD_UNLOADED = 10,
    RECORD_RESIDENT = 11,
    RECORD_END = 0xFFFF,
};

#define FORMAT_VERSION 3u
/* 96 bytes until first_seen_bytes came, still in version 3 (the record says its entries' size). */
#define SITE_ENTRY_BYTES 104u

/* Live totals of one stack, gathered from the liveness table for one snapshot. */
struct site_totals {
    uint64_t live_samples;
    uint64_t live_sampled_bytes;
    double live_objects;
    double live_bytes;
    double live_usable_bytes; /* Σ weight × what the allocator counts (malloc) or the pages (mmap) */
    uint32_t oldest_ds;
    uint32_t newest_ds;
    double time_weighted_ds; /* Σ live_bytes × alloc time, for the mean */
    struct lh_stack_stats cumulative;
};

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static int pid_dir_fd = -1;
static uint64_t next_sequence;
static struct site_totals *totals;
/*
 * Per stack, cumulative: the upscaled bytes of its sampled blocks counted at the first snapshot they were live in.
 * The analysis tells a site whose blocks are replaced (its sampled estimate wanders as blocks come and go, with no
 * growth) from one that grows by it: births seen, and so deaths seen (FORMAT.md, first_seen_bytes). Births are
 * known to the decisecond: a block born after the decisecond of the snapshot before counts whole; one born in that
 * decisecond counts for the share of it that came after that snapshot's walk (the blocks born before were counted
 * then), so the count is right on average wherever in their decisecond the snapshots fall.
 */
static double *first_seen_bytes;
static uint32_t first_seen_from_ds;
static double first_seen_boundary_share = 1.0;
static uintptr_t *frame_scratch;
static struct lh_java_frame *java_scratch;
static struct mallinfo2 (*mallinfo2_function)(void);
static int (*mallctl_function)(const char *, void *, size_t *, void *, size_t);

/* ---- gathering ---- */

/* One live sample of `bytes` (`usable` as the allocator or the kernel counts them) and `weight`, born at `born_ds`. */
static void add_live(uint32_t stack_id, uint32_t stack_count, uint64_t bytes, uint64_t usable, double weight, uint32_t born_ds)
{
    if (stack_id >= stack_count)
        return;
    struct site_totals *t = &totals[stack_id];
    double upscaled = weight * (double)bytes;
    if (t->live_samples == 0 || born_ds < t->oldest_ds)
        t->oldest_ds = born_ds;
    if (born_ds > t->newest_ds)
        t->newest_ds = born_ds;
    t->live_samples++;
    t->live_sampled_bytes += bytes;
    t->live_objects += weight;
    t->live_bytes += upscaled;
    t->live_usable_bytes += weight * (double)usable;
    t->time_weighted_ds += upscaled * (double)born_ds;
    if (born_ds > first_seen_from_ds)
        first_seen_bytes[stack_id] += upscaled;
    else if (born_ds == first_seen_from_ds)
        first_seen_bytes[stack_id] += upscaled * first_seen_boundary_share;
}

static void add_live_entry(const struct lh_live_entry *e, void *context)
{
    add_live(e->stack_id, *(uint32_t *)context, e->size, e->usable_size, lh_sample_weight(e->size, e->generation),
             e->alloc_time_ds);
}

/* A tracked mapping, or what a partial munmap left of it: the bytes it still holds, at the weight it was sampled
 * with; usable: its pages. */
static void add_mapping(const struct lh_mapping *m, void *context)
{
    uint64_t pages = ((m->end + 4095) & ~(uint64_t)4095) - m->start;
    add_live(m->stack_id, *(uint32_t *)context, m->end - m->start, pages, lh_sample_weight(m->sampled_size, m->generation),
             m->alloc_time_ds);
}

static void write_meta(bool is_final, bool after_trim, uint64_t sequence)
{
    struct timespec real, mono;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    off_t start = out_begin_record(RECORD_META);
    out_u64((uint64_t)getpid());
    out_u64(sequence);
    out_u64((uint64_t)real.tv_sec * 1000000000u + (uint64_t)real.tv_nsec);
    out_u64((uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec);
    out_u64(lh_start_realtime_ns);
    out_u64(lh_start_monotonic_ns);
    out_u64(lh_config.sample_interval_bytes);
    out_u64(lh_sampler_interval_bytes());
    out_u32(is_final ? 1 : 0);
    out_u32(lh_config.max_stack_depth);
    out_u64((lh_config.sample_interval_bytes <= 1 && lh_sampler_generation() == 0 ? 1u : 0u) |
            (after_trim ? 2u : 0u) | (uint64_t)lh_agent_status() << 2 | (atomic_load(&lh_attached) ? 16u : 0u));
    out_u64(0);
    out_u64(0);
    out_end_record(start);
}

static void write_counters(uint32_t stack_count)
{
    off_t start = out_begin_record(RECORD_COUNTERS);
    out_u64(LH_COUNTER_TOTAL(samples));
    out_u64(LH_COUNTER_TOTAL(sampled_frees));
    out_u64(lh_live_count());
    out_u64(lh_live_capacity());
    out_u64(LH_COUNTER_TOTAL(table_drops));
    out_u64(LH_COUNTER_TOTAL(thinned_entries));
    out_u64(LH_COUNTER_TOTAL(thinning_rounds));
    out_u64(stack_count);
    out_u64(lh_stacks_capacity());
    out_u64(LH_COUNTER_TOTAL(stack_drops));
    out_u64(LH_COUNTER_TOTAL(missed_frees));
    out_u64(LH_COUNTER_TOTAL(mapped_bytes));
    out_u64(LH_COUNTER_TOTAL(snapshots_written));
    out_u64(LH_COUNTER_TOTAL(write_errors));
    out_u64(LH_COUNTER_TOTAL(java_stacks));
    out_u64(LH_COUNTER_TOTAL(java_stack_failures));
    out_u64(lh_resident_bytes());
    out_u64(lh_methods_count());
    out_u64(lh_mappings_count());
    out_u64(LH_COUNTER_TOTAL(mapping_drops));
    out_u64(LH_COUNTER_TOTAL(fast_unwinds));
    out_u64(LH_COUNTER_TOTAL(unwind_mismatches));
    out_end_record(start);
}

static void write_mallinfo(void)
{
    off_t start = out_begin_record(RECORD_MALLINFO);
    struct mallinfo2 mi = {0};
    if (mallinfo2_function)
        mi = mallinfo2_function();
    out_u64(mallinfo2_function ? 1 : 0);
    size_t fields[10] = {mi.arena, mi.ordblks, mi.smblks, mi.hblks, mi.hblkhd,
                         mi.usmblks, mi.fsmblks, mi.uordblks, mi.fordblks, mi.keepcost};
    for (int i = 0; i < 10; i++)
        out_u64(fields[i]);
    out_end_record(start);
}

/* jemalloc's own figures when it is the allocator under us (stats need its "epoch" refreshed first). */
static void write_jemalloc(void)
{
    if (!mallctl_function)
        return;
    uint64_t epoch = 1;
    size_t epoch_bytes = sizeof epoch;
    mallctl_function("epoch", &epoch, &epoch_bytes, &epoch, epoch_bytes);
    const char *names[] = {"stats.allocated", "stats.active", "stats.resident", "stats.mapped", "stats.retained",
                           "stats.metadata"};
    off_t start = out_begin_record(RECORD_JEMALLOC);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t value = 0, bytes = sizeof value;
        if (mallctl_function(names[i], &value, &bytes, NULL, 0) != 0)
            value = 0;
        out_u64(value);
    }
    out_end_record(start);
}

static void write_process_memory(void)
{
    struct lh_process_memory m;
    lh_procfs_memory(&m);
    off_t start = out_begin_record(RECORD_PROCESS_MEMORY);
    out_u64(m.vm_size_bytes);
    out_u64(m.vm_rss_bytes);
    out_u64(m.rss_anon_bytes);
    out_u64(m.rss_file_bytes);
    out_u64(m.rss_shmem_bytes);
    out_u64(m.vm_hwm_bytes);
    out_end_record(start);
}

/* Resident memory by mapping, when resident.c's budget lets this snapshot read smaps. */
static void write_resident(bool is_final)
{
    uint64_t now_ns = lh_monotonic_ns();
    if (!lh_resident_due(is_final, now_ns))
        return;
    off_t start = out_begin_record(RECORD_RESIDENT);
    lh_resident_write(now_ns);
    out_end_record(start);
}

static void write_stacks(uint32_t stack_count)
{
    off_t start = out_begin_record(RECORD_STACKS);
    out_u32(stack_count);
    for (uint32_t id = 0; id < stack_count; id++) {
        int java_depth = 0;
        int depth = lh_stacks_get(id, frame_scratch, java_scratch, &java_depth, &totals[id].cumulative);
        out_u32(id);
        uint16_t native_depth16 = (uint16_t)depth, java_depth16 = (uint16_t)java_depth;
        out_put(&native_depth16, 2);
        out_put(&java_depth16, 2);
        for (int i = 0; i < depth; i++)
            out_u64(frame_scratch[i]);
        for (int i = 0; i < java_depth; i++) {
            out_u64(java_scratch[i].method_id);
            out_u32((uint32_t)java_scratch[i].bci);
            out_u32(0);
        }
    }
    out_end_record(start);
}

static void put_method(const struct lh_method_info *m, void *count)
{
    uint16_t class_bytes = (uint16_t)strnlen(m->class_signature, 65535);
    uint16_t name_bytes = (uint16_t)strnlen(m->name, 65535);
    uint16_t source_bytes = (uint16_t)strnlen(m->source_file, 65535);
    uint16_t reserved = 0;
    out_u64(m->method_id);
    out_put(&class_bytes, 2);
    out_put(&name_bytes, 2);
    out_put(&source_bytes, 2);
    out_put(&reserved, 2);
    out_u32(m->line_count);
    out_put(m->class_signature, class_bytes);
    out_put(m->name, name_bytes);
    out_put(m->source_file, source_bytes);
    out_put(m->lines, (size_t)m->line_count * 8);
    (*(uint32_t *)count)++;
}

static void write_java_methods(void)
{
    if (lh_methods_count() == 0)
        return;
    off_t start = out_begin_record(RECORD_JAVA_METHODS);
    /* The count is patched like a length: methods resolved meanwhile may be more than counted before. */
    off_t count_at = out_position();
    out_u32(0);
    uint32_t count = 0;
    lh_methods_for_each(put_method, &count);
    out_patch_u32(count_at, count);
    out_end_record(start);
}

static void write_sites(uint32_t stack_count)
{
    off_t start = out_begin_record(RECORD_SITES);
    out_u32(stack_count);
    out_u32(SITE_ENTRY_BYTES);
    for (uint32_t id = 0; id < stack_count; id++) {
        const struct site_totals *t = &totals[id];
        out_u32(id);
        out_u32((uint32_t)lh_stacks_kind(id));
        out_u64(t->live_samples);
        out_u64(t->live_sampled_bytes);
        out_f64(t->live_objects);
        out_f64(t->live_bytes);
        out_u64(t->cumulative.alloc_samples);
        out_f64(t->cumulative.alloc_objects);
        out_f64(t->cumulative.alloc_bytes);
        out_u64(t->live_samples ? (uint64_t)t->oldest_ds * 100 : 0);
        out_u64(t->live_samples ? (uint64_t)t->newest_ds * 100 : 0);
        out_f64(t->live_bytes > 0 ? t->time_weighted_ds / t->live_bytes * 100.0 : 0.0);
        out_f64(t->live_usable_bytes);
        out_f64(first_seen_bytes[id]);
    }
    out_end_record(start);
}

LH_HIDDEN void lh_snapshot_write(bool is_final, bool after_trim)
{
    pthread_mutex_lock(&write_lock);
    char name[32], temporary[40];
    uint64_t sequence = next_sequence++;
    snprintf(name, sizeof name, "%06llu.lhs", (unsigned long long)sequence);
    snprintf(temporary, sizeof temporary, "%s.tmp", name);
    int fd = openat(pid_dir_fd, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        LH_COUNT(write_errors, 1);
        pthread_mutex_unlock(&write_lock);
        return;
    }
    uint32_t stack_count = lh_stacks_count();
    memset(totals, 0, (size_t)stack_count * sizeof *totals);
    /* On the clock births are told by (lh_now_deciseconds): where in its decisecond this walk starts. */
    uint64_t since_start_ns = lh_coarse_since_start_ns();
    lh_live_for_each(add_live_entry, &stack_count);
    lh_mappings_for_each(add_mapping, &stack_count);
    first_seen_from_ds = (uint32_t)(since_start_ns / LH_DECISECOND_NS);
    first_seen_boundary_share = 1.0 - (double)(since_start_ns % LH_DECISECOND_NS) / (double)LH_DECISECOND_NS;

    out_start(fd);
    out_put("LKHUNT\r\n", 8);
    out_u32(FORMAT_VERSION);
    out_u32(16);
    write_meta(is_final, after_trim, sequence);
    write_counters(stack_count);
    write_mallinfo();
    write_jemalloc();
    write_process_memory();
    off_t maps = out_begin_record(RECORD_MAPS);
    lh_procfs_maps(out_sink, NULL);
    out_end_record(maps);
    write_resident(is_final);
    write_stacks(stack_count);
    write_sites(stack_count);
    write_java_methods();
    if (lh_unloaded_count() > 0) {
        off_t unloaded = out_begin_record(RECORD_UNLOADED);
        lh_unloaded_write(out_sink, NULL);
        out_end_record(unloaded);
    }
    out_u32(RECORD_END);
    out_u32(0);
    bool written = out_finish();
    close(fd);
    if (!written || renameat(pid_dir_fd, temporary, pid_dir_fd, name) != 0) {
        unlinkat(pid_dir_fd, temporary, 0);
        LH_COUNT(write_errors, 1);
    } else {
        LH_COUNT(snapshots_written, 1);
        lh_retention_apply(pid_dir_fd, sequence);
    }
    pthread_mutex_unlock(&write_lock);
}

LH_HIDDEN void lh_snapshot_lock_for_fork(void)
{
    pthread_mutex_lock(&write_lock);
}

LH_HIDDEN void lh_snapshot_unlock_after_fork(void)
{
    pthread_mutex_unlock(&write_lock);
}

LH_HIDDEN int lh_snapshot_directory(void)
{
    return pid_dir_fd;
}

LH_HIDDEN bool lh_snapshot_open_directory(void)
{
    char name[24];
    snprintf(name, sizeof name, "%d", (int)getpid());
    if (mkdirat(lh_config.raw_dir_fd, name, 0700) != 0 && errno != EEXIST)
        return false;
    int fd = openat(lh_config.raw_dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    pthread_mutex_lock(&write_lock);
    first_seen_from_ds = 0; /* a new run (an attach rebases the clock births are told in) */
    first_seen_boundary_share = 1.0;
    if (pid_dir_fd >= 0)
        close(pid_dir_fd);
    pid_dir_fd = fd;
    next_sequence = lh_retention_next_sequence(pid_dir_fd); /* an exec() continues the series */
    pthread_mutex_unlock(&write_lock);
    return true;
}

LH_HIDDEN bool lh_snapshot_prepare(void)
{
    if (!lh_snapshot_open_directory())
        return false;
    bool output_ready = out_init();
    totals = lh_map_memory((size_t)lh_config.max_stacks * sizeof *totals);
    first_seen_bytes = lh_map_memory((size_t)lh_config.max_stacks * sizeof *first_seen_bytes);
    frame_scratch = lh_map_memory(LH_MAX_DEPTH_LIMIT * sizeof *frame_scratch);
    java_scratch = lh_map_memory(LH_MAX_DEPTH_LIMIT * sizeof *java_scratch);
    if (!output_ready || !totals || !first_seen_bytes || !frame_scratch || !java_scratch)
        return false;
    mallinfo2_function = (struct mallinfo2 (*)(void))dlsym(RTLD_DEFAULT, "mallinfo2");
    mallctl_function = (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
    return true;
}
