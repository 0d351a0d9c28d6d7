/*
 * Declarations shared by the shim's files. Everything here is internal (hidden visibility). The library exports
 * only what it interposes and what a JVM looks up, each in the file of its concern — this list is checked against
 * `nm -D --defined-only native/build/libleakhunt.so` by scripts/test-native.mjs:
 *
 * exports:
 *   interpose.c    malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc pvalloc
 *                  malloc_usable_size
 *   interpose_mmap.c   mmap mmap64 munmap mremap
 *   interpose_dlsym.c  dlsym dlvsym                        (malloc and mmap looked up by name are the shim's)
 *   lifecycle.c    __libc_start_main exit                  (the final snapshot, before static destructors run)
 *   credentials.c  setuid setgid seteuid setegid setreuid setregid setresuid setresgid setgroups unshare setns
 *                                                          (the writer stopped around calls that need one thread)
 *   unloaded.c     dlclose                                 (what a library mapped, remembered before it goes)
 *   agent.c        Agent_OnLoad                            (the JVMTI agent; absent when built without jvmti.h)
 *   attach.c       Agent_OnAttach                          (loaded into a running JVM: GOT hooks, got.c)
 */
#ifndef LEAKHUNT_SHIM_H
#define LEAKHUNT_SHIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LH_HIDDEN __attribute__((visibility("hidden")))
#define LH_EXPORT __attribute__((visibility("default")))
/* A hidden name bound to this library's own definition of `name` (defined in the same file): unlike `&name`, never
 * resolved through the GOT to a definition that comes first in the process. */
#if defined(__GNUC__) && !defined(__clang__)
#define LH_SELF(name) extern __typeof__(name) self_##name __attribute__((alias(#name), visibility("hidden"), copy(name)));
#else
#define LH_SELF(name) extern __typeof__(name) self_##name __attribute__((alias(#name), visibility("hidden")));
#endif
#define LH_LIKELY(x) __builtin_expect(!!(x), 1)
#define LH_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The definition of `name` that follows the shim's own in lookup order (dlsym(RTLD_NEXT)), resolved on first use
 * and cached; NULL if there is none. For every function the shim wraps except the malloc and mmap families: dlsym
 * itself allocates, so interpose.c resolves those up front, with a bootstrap buffer, into its next_* table, and
 * interpose_mmap.c makes system calls until the constructor resolved them. (dlsym is the shim's own too: a lookup
 * from here passes through to the real one, interpose_dlsym.c.) The file that uses it includes <dlfcn.h> (after
 * _GNU_SOURCE). */
#define LH_NEXT(name)                                                                                       \
    (__extension__({                                                                                        \
        static __typeof__(&name) lh_next_cached;                                                            \
        __typeof__(&name) lh_next = __atomic_load_n(&lh_next_cached, __ATOMIC_ACQUIRE);                     \
        if (!lh_next) {                                                                                     \
            lh_next = (__typeof__(&name))dlsym(RTLD_NEXT, #name);                                           \
            __atomic_store_n(&lh_next_cached, lh_next, __ATOMIC_RELEASE);                                   \
        }                                                                                                   \
        lh_next;                                                                                            \
    }))

/* Whether the shim records. STARTING covers the time before our constructor ran (ld.so and earlier
 * constructors already allocate); OFF is final for this process image (forked child, bad config, setuid) — except
 * for a shim loaded by the JVM's attach mechanism, where OFF is where attach.c starts from. PAUSED: an attached run
 * that ended (detach, or stop-request): the hooks pass calls through until the next attach turns it ON again. */
enum lh_run_state { LH_STARTING = 0, LH_ON = 1, LH_OFF = 2, LH_PAUSED = 3 };
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

/* Counters written into every snapshot. Updated with relaxed atomics on sampled paths only, through LH_COUNT. */
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
    _Atomic uint64_t mapping_drops;       /* sampled mappings not tracked: the mapping table or stack table was full */
    _Atomic uint64_t fast_unwinds;        /* samples whose native stack the shim's own tables captured */
    _Atomic uint64_t unwind_mismatches;   /* LEAKHUNT_UNWINDER=both: samples where the two unwinders differ */
};

/*
 * Each thread adds to one of LH_COUNTER_STRIPES copies of the counters, chosen by its thread pointer, and a snapshot
 * sums the copies. One shared copy put a locked add on a line the other core held into every sample: on two threads
 * sampling every allocation (bench/malloc-pairs -t 2), the counters' adds were an eighth of a sample's cost. Two
 * threads share a copy with probability 1/16, which is the old cost, no more.
 */
#define LH_COUNTER_STRIPES 16
struct lh_counter_stripe {
    struct lh_counters counters;
} __attribute__((aligned(128)));
extern LH_HIDDEN struct lh_counter_stripe lh_counter_stripes[LH_COUNTER_STRIPES];

static inline struct lh_counters *lh_thread_counters(void)
{
    /* Thread pointers sit a stack apart; the multiply mixes the page number into the top four bits. */
    uint64_t page = (uint64_t)(uintptr_t)__builtin_thread_pointer() >> 12;
    return &lh_counter_stripes[(page * 0x9E3779B97F4A7C15ull) >> 60].counters;
}
_Static_assert(LH_COUNTER_STRIPES == 16, "lh_thread_counters keeps the top four bits");

#define LH_COUNT(field, n) atomic_fetch_add_explicit(&lh_thread_counters()->field, (n), memory_order_relaxed)
/* A counter's value: the sum of its copies. */
LH_HIDDEN uint64_t lh_counter_total(size_t offset);
#define LH_COUNTER_TOTAL(field) lh_counter_total(offsetof(struct lh_counters, field))

/* The executable segment of the loaded object that holds `address` (both 0 when none does), and whether that object
 * is the main program. Takes the loader's lock (dl_iterate_phdr): never on a hot path. */
struct lh_text_range {
    uintptr_t start, end;
    bool main_program;
};
LH_HIDDEN struct lh_text_range lh_text_range_of(uintptr_t address);

/* Sets the counters of one run back to zero for the next (an attach again, attach.c); the shim's memory stays. */
LH_HIDDEN void lh_counters_reset_run(void);

/* Anonymous memory for the shim's own tables: never from the target's allocator, so the shim neither
 * recurses into itself nor shows up in the target's malloc statistics. Counted in mapped_bytes. */
LH_HIDDEN void *lh_map_memory(size_t bytes);

/* How much of the shim's own mapped memory is resident now (only the writer thread calls it). */
LH_HIDDEN uint64_t lh_resident_bytes(void);

/* One line on stderr: the parts (a NULL ends them) and a newline, in a single write(2) — no stdio, no allocation,
 * and a line under PIPE_BUF is never interleaved with the target's own output. Cut at 1 KiB. */
LH_HIDDEN void lh_say(const char *first, ...) __attribute__((sentinel));
/* How the shim says it turned itself off for this process (the target runs on untouched). */
#define LH_SAY_DISABLED "leakhunt shim: disabled: "

/* Monotonic time since the shim started, for allocation ages. */
LH_HIDDEN uint64_t lh_monotonic_ns(void);
/* The same clock at tick resolution, cheaper (platform.c): up to a tick behind lh_monotonic_ns. */
LH_HIDDEN uint64_t lh_coarse_monotonic_ns(void);
extern LH_HIDDEN uint64_t lh_start_monotonic_ns;
extern LH_HIDDEN uint64_t lh_start_realtime_ns;
/* lh_coarse_monotonic_ns since lh_start_monotonic_ns (0 before it): the clock allocation times are told by. */
LH_HIDDEN uint64_t lh_coarse_since_start_ns(void);
#define LH_DECISECOND_NS 100000000u
/* Loaded into a running process (attach.c): lh_start_* are when tracking began, not when the process started. */
extern LH_HIDDEN _Atomic bool lh_attached;

/*
 * A prefetch that asks for the line to write. A line another core holds (the liveness table's filter, read by every
 * thread's frees; a shard's lock and slots, which move with whichever thread sampled last) comes once, with
 * ownership, where a read prefetch brings it shared and the write then takes it a second time. PREFETCHW where the
 * CPU has it (AMD64 from the start, Intel since Broadwell), found by lh_find_write_prefetch (platform.c); else the
 * compiler's prefetch, a read prefetch on plain x86-64. Never a compiler flag that emits PREFETCHW unconditionally:
 * a CPU without it would take SIGILL.
 */
extern LH_HIDDEN bool lh_write_prefetch;
LH_HIDDEN void lh_find_write_prefetch(void);

static inline void lh_prefetch_for_write(const void *line)
{
#if defined(__x86_64__)
    if (lh_write_prefetch) {
        /* An address operand only: a prefetch never faults, whatever `line` is. */
        __asm__ volatile("prefetchw %0" : : "m"(*(const char *)line));
        return;
    }
#endif
    __builtin_prefetch(line, 1);
}

#endif
