/* The OS services every part of the shim uses: its own memory, the clock, a line on stderr; and what the CPU offers
 * (PREFETCHW). */
#define _GNU_SOURCE
#include <link.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "shim.h"

LH_HIDDEN struct lh_counter_stripe lh_counter_stripes[LH_COUNTER_STRIPES];
LH_HIDDEN uint64_t lh_start_monotonic_ns;
LH_HIDDEN uint64_t lh_start_realtime_ns;
LH_HIDDEN _Atomic bool lh_attached;
LH_HIDDEN bool lh_write_prefetch;

LH_HIDDEN void lh_find_write_prefetch(void)
{
#if defined(__x86_64__)
    unsigned eax, ebx, ecx, edx;
    lh_write_prefetch = __get_cpuid(0x80000001u, &eax, &ebx, &ecx, &edx) && (ecx & bit_PRFCHW);
#endif
}

/* Every mapping the shim made, so its resident size can be measured (mincore) rather than guessed. */
#define MAX_MAPPINGS 32
static struct {
    void *start;
    size_t bytes;
} mappings[MAX_MAPPINGS];
static _Atomic int mapping_count;

struct text_search {
    uintptr_t probe;
    struct lh_text_range found;
};

static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct text_search *search = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (search->probe >= start && search->probe < start + ph->p_memsz) {
            search->found = (struct lh_text_range){start, start + ph->p_memsz, info->dlpi_name && info->dlpi_name[0] == '\0'};
            return 1;
        }
    }
    return 0;
}

LH_HIDDEN struct lh_text_range lh_text_range_of(uintptr_t address)
{
    struct text_search search = {address, {0, 0, false}};
    dl_iterate_phdr(find_text, &search);
    return search.found;
}

/* A counter added to struct lh_counters must be sorted here: reset per run, or kept (as mapped_bytes). */
_Static_assert(sizeof(struct lh_counters) == 15 * sizeof(uint64_t), "a new counter: does an attach again reset it?");

LH_HIDDEN void lh_counters_reset_run(void)
{
    /* Every counter but mapped_bytes, the shim's memory, which the next run still holds. */
    static const size_t per_run[] = {
        offsetof(struct lh_counters, samples),         offsetof(struct lh_counters, sampled_frees),
        offsetof(struct lh_counters, table_drops),     offsetof(struct lh_counters, thinned_entries),
        offsetof(struct lh_counters, thinning_rounds), offsetof(struct lh_counters, stack_drops),
        offsetof(struct lh_counters, missed_frees),    offsetof(struct lh_counters, snapshots_written),
        offsetof(struct lh_counters, write_errors),    offsetof(struct lh_counters, java_stacks),
        offsetof(struct lh_counters, java_stack_failures), offsetof(struct lh_counters, mapping_drops),
        offsetof(struct lh_counters, fast_unwinds),    offsetof(struct lh_counters, unwind_mismatches),
    };
    for (int k = 0; k < LH_COUNTER_STRIPES; k++)
        for (size_t i = 0; i < sizeof per_run / sizeof per_run[0]; i++)
            atomic_store_explicit((_Atomic uint64_t *)((char *)&lh_counter_stripes[k].counters + per_run[i]), 0,
                                  memory_order_relaxed);
}

LH_HIDDEN uint64_t lh_counter_total(size_t offset)
{
    uint64_t total = 0;
    for (int k = 0; k < LH_COUNTER_STRIPES; k++)
        total += atomic_load_explicit((_Atomic uint64_t *)((char *)&lh_counter_stripes[k].counters + offset),
                                      memory_order_relaxed);
    return total;
}

LH_HIDDEN void *lh_map_memory(size_t bytes)
{
    /* NORESERVE + demand paging: the stated worst case is virtual; RSS follows what is really used. The system call
     * itself, not the shim's own mmap (interpose_mmap.c): the shim's memory is not the target's. */
    long mapped = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapped == -1)
        return NULL;
    void *p = (void *)mapped;
    LH_COUNT(mapped_bytes, bytes);
    int slot = atomic_fetch_add(&mapping_count, 1);
    if (slot < MAX_MAPPINGS) {
        mappings[slot].start = p;
        mappings[slot].bytes = bytes;
    }
    return p;
}

LH_HIDDEN uint64_t lh_resident_bytes(void)
{
    static unsigned char pages[4096];
    long page = sysconf(_SC_PAGESIZE);
    uint64_t resident = 0;
    int count = atomic_load(&mapping_count);
    for (int i = 0; i < count && i < MAX_MAPPINGS; i++) {
        for (size_t done = 0; done < mappings[i].bytes; done += sizeof pages * (size_t)page) {
            size_t chunk = mappings[i].bytes - done;
            if (chunk > sizeof pages * (size_t)page)
                chunk = sizeof pages * (size_t)page;
            if (mincore((char *)mappings[i].start + done, chunk, pages) != 0)
                break;
            for (size_t k = 0; k < (chunk + (size_t)page - 1) / (size_t)page; k++)
                resident += (pages[k] & 1) ? (uint64_t)page : 0;
        }
    }
    return resident;
}

/* The same clock to the kernel's last tick (a few ms): one read of a shared page, where CLOCK_MONOTONIC costs a
 * TSC read and, in a VM, a paravirtual clock (5 vs 33 ns measured here). For allocation times in deciseconds. */
LH_HIDDEN uint64_t lh_coarse_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

LH_HIDDEN uint64_t lh_coarse_since_start_ns(void)
{
    uint64_t now = lh_coarse_monotonic_ns();
    return now > lh_start_monotonic_ns ? now - lh_start_monotonic_ns : 0;
}

LH_HIDDEN uint64_t lh_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

LH_HIDDEN void lh_say(const char *first, ...)
{
    char line[1024];
    size_t used = 0;
    va_list parts;
    va_start(parts, first);
    for (const char *part = first; part; part = va_arg(parts, const char *)) {
        size_t n = strnlen(part, sizeof line - 1 - used);
        memcpy(line + used, part, n);
        used += n;
    }
    va_end(parts);
    line[used++] = '\n';
    ssize_t ignored = write(2, line, used);
    (void)ignored;
}

LH_HIDDEN _Atomic int lh_run_state = LH_STARTING;

#include "state.h"
__thread struct lh_thread_state lh_tls __attribute__((tls_model("initial-exec")));
