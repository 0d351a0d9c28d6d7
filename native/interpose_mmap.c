/*
 * The mmap family — mmap, mmap64, munmap, mremap — interposed by LD_PRELOAD and forwarded to the next definition
 * (glibc's). Only calls made through the PLT come here: glibc's own (malloc's arenas and large blocks, thread
 * stacks) do not, and need not: malloc's mappings are in mallinfo, and thread stacks are not leaks of a call site.
 * Another allocator's (jemalloc's, tcmalloc's) do, and are left out for the same reason: they are its heap, whose
 * blocks the malloc family samples (a return address compared with its code's bounds, on the sampled path only).
 *
 * Mappings are sampled in bytes like malloc blocks — the same per-thread countdown, the same Poisson rule and
 * weights (sampler.c) — and tracked until they are unmapped (mappings.c), with their native and Java stacks, as
 * stacks of kind "mmap (anonymous)" or "mmap (file)".
 *
 * What counts: a mapping made with some access (not PROT_NONE) and not placed with MAP_FIXED. A JVM reserves its
 * heap, code cache and class space with PROT_NONE and commits parts of them later with mmap(MAP_FIXED) over the
 * reservation: neither is new memory of a call site, and a reservation of gigabytes must not read as a leak.
 * Memory made accessible later with mprotect() is not counted (README, "mmap").
 *
 * Hot path cost (bench/mmap-pairs.c): an unsampled mmap is the countdown (a TLS subtraction and a sign test); an
 * unsampled munmap, and mremap and mmap(MAP_FIXED), one check of the region filter (mappings.h: two bounds and,
 * inside them, a byte per 2 MiB of the range). No lock, no allocation. Until the constructor resolved the next
 * definitions they are the system calls themselves, which is what glibc's wrappers are on Linux.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose.h"
#include "liveness.h"
#include "mappings.h"
#include "sampler.h"
#include "stacks.h"
#include "state.h"

#define PAGE_BYTES 4096u

/* ---- the next definitions: system calls until resolved ---- */

static void *system_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset)
{
    long result = syscall(SYS_mmap, address, length, prot, flags, fd, offset);
    return result == -1 ? MAP_FAILED : (void *)result;
}

static int system_munmap(void *address, size_t length)
{
    return (int)syscall(SYS_munmap, address, length);
}

static void *system_mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
{
    void *new_address = NULL;
    if (flags & MREMAP_FIXED) {
        va_list rest;
        va_start(rest, flags);
        new_address = va_arg(rest, void *);
        va_end(rest);
    }
    long result = syscall(SYS_mremap, old_address, old_size, new_size, flags, new_address);
    return result == -1 ? MAP_FAILED : (void *)result;
}

typedef void *(*mmap_function)(void *, size_t, int, int, int, off_t);
typedef void *(*mremap_function)(void *, size_t, size_t, int, ...);
static mmap_function next_mmap = system_mmap;
static mmap_function next_mmap64 = system_mmap;
static int (*next_munmap)(void *, size_t) = system_munmap;
static mremap_function next_mremap = system_mremap;
#define NEXT(name) __atomic_load_n(&next_##name, __ATOMIC_RELAXED)

LH_HIDDEN void lh_interpose_mmap_resolve(void)
{
    void *f;
    if ((f = dlsym(RTLD_NEXT, "mmap")) != NULL)
        __atomic_store_n(&next_mmap, (mmap_function)f, __ATOMIC_RELEASE);
    if ((f = dlsym(RTLD_NEXT, "mmap64")) != NULL)
        __atomic_store_n(&next_mmap64, (mmap_function)f, __ATOMIC_RELEASE);
    if ((f = dlsym(RTLD_NEXT, "munmap")) != NULL)
        __atomic_store_n(&next_munmap, (int (*)(void *, size_t))f, __ATOMIC_RELEASE);
    if ((f = dlsym(RTLD_NEXT, "mremap")) != NULL)
        __atomic_store_n(&next_mremap, (mremap_function)f, __ATOMIC_RELEASE);
}

/* ---- the slow paths ---- */

/* What a mapping can hold counts: accessible memory that is new, not a reservation or a commit inside one. */
static bool counts(int prot, int flags)
{
    return prot != PROT_NONE && !(flags & MAP_FIXED);
}

/* A sampled mapping: tracked with `ancestor`'s stack and birth time when it is what an mremap made of a tracked one
 * (lineage, as for realloc), else with the calling thread's stack. */
static void record_mapping(void *p, size_t length, enum lh_stack_kind kind, const struct lh_mapping *ancestor)
{
    LH_COUNT(samples, 1);
    uint32_t generation = lh_sampler_generation();
    double weight = lh_sample_weight(length, generation);
    uint32_t stack_id, born;
    if (ancestor) {
        stack_id = ancestor->stack_id;
        born = ancestor->alloc_time_ds;
        lh_stacks_count_sample(stack_id, length, weight);
    } else if (lh_sample_stack(kind, length, weight, &stack_id) && stack_id != LH_OVERFLOW_STACK) {
        born = lh_now_deciseconds();
    } else {
        /* No frame buffer, or the stack table is full: its overflow stack is malloc's, so the mapping is left out. */
        LH_COUNT(mapping_drops, 1);
        return;
    }
    lh_mappings_insert((uintptr_t)p, length, stack_id, born, generation);
}

/* Whether the calling thread may sample now: the guard first, then the run state (as after_allocation). */
static bool may_sample(void)
{
    if (lh_tls.busy | lh_tls.quiet)
        return false;
    int state = atomic_load_explicit(&lh_run_state, memory_order_relaxed);
    if (state == LH_OFF)
        lh_tls.bytes_until_sample = INT64_MAX / 2; /* never come back here */
    else if (state == LH_PAUSED)
        lh_sampler_take(&lh_tls, 0); /* rearmed, unrecorded (interpose.c does the same) */
    return state == LH_ON;
}

/* Whether the calling thread may change the table: frees from the shim's quiet threads do, as for free(). */
static bool may_forget(void)
{
    int state = atomic_load_explicit(&lh_run_state, memory_order_relaxed);
    if (lh_tls.busy) {
        if (state == LH_ON)
            LH_COUNT(missed_frees, 1);
        return false;
    }
    return state == LH_ON;
}

/* `caller`: where the mapping was asked for; the allocator's own (its heap) is left out, as glibc's is. */
static __attribute__((noinline, cold)) void *after_mapping(void *p, size_t length, int prot, int flags, int fd, uintptr_t caller)
{
    if (!may_sample())
        return p;
    lh_tls.busy++;
    if (lh_sampler_take(&lh_tls, length) && p != MAP_FAILED && counts(prot, flags) && !lh_interpose_in_allocator(caller)) {
        enum lh_stack_kind kind = (flags & MAP_ANONYMOUS) || fd < 0 ? LH_KIND_MMAP_ANON : LH_KIND_MMAP_FILE;
        record_mapping(p, length, kind, NULL);
    }
    lh_tls.busy--;
    return p;
}

/* Forgets the tracked pages of a range about to be unmapped or replaced. */
static __attribute__((noinline, cold)) void forget_range(void *address, size_t length)
{
    if (!may_forget())
        return;
    lh_tls.busy++;
    /* Before the call: once unmapped, another thread may map this range again and sample it. */
    lh_mappings_remove((uintptr_t)address, length, NULL, NULL, 0, NULL);
    lh_tls.busy--;
}

static void *mmap_with(mmap_function next, void *address, size_t length, int prot, int flags, int fd, off_t offset,
                       uintptr_t caller)
{
    /* Placed over a range that may hold a tracked mapping: that one is replaced. */
    if (LH_UNLIKELY((flags & MAP_FIXED) && lh_mappings_maybe_tracked(address, length)))
        forget_range(address, length);
    void *p = next(address, length, prot, flags, fd, offset);
    if (LH_UNLIKELY(lh_countdown_crossed(length)))
        return after_mapping(p, length, prot, flags, fd, caller);
    return p;
}

/* ---- the exported family ---- */

LH_EXPORT void *mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset)
{
    return mmap_with(NEXT(mmap), address, length, prot, flags, fd, offset, (uintptr_t)__builtin_return_address(0));
}

LH_EXPORT void *mmap64(void *address, size_t length, int prot, int flags, int fd, off_t offset)
{
    return mmap_with(NEXT(mmap64), address, length, prot, flags, fd, offset, (uintptr_t)__builtin_return_address(0));
}

LH_EXPORT int munmap(void *address, size_t length)
{
    if (LH_UNLIKELY(lh_mappings_maybe_tracked(address, length)))
        forget_range(address, length);
    return NEXT(munmap)(address, length);
}

/* At most this many tracked entries are put back when an mremap fails after its range was forgotten. */
#define RESTORE_ROOM 8

/*
 * An mremap of a range that may hold tracked mappings (or moved onto one). The old range is forgotten first, as for
 * munmap; the result is then sampled like a realloc: kept iff the countdown over its new size says so, and then with
 * the old mapping's stack and birth time when that one was tracked.
 */
static __attribute__((noinline, cold)) void *remap_tracked(void *old_address, size_t old_size, size_t new_size,
                                                          int flags, void *new_address)
{
    if (!may_forget())
        return NEXT(mremap)(old_address, old_size, new_size, flags, new_address);
    struct lh_mapping held, removed[RESTORE_ROOM];
    int removed_count = 0;
    bool had = false;
    bool keeps_old = (flags & MREMAP_DONTUNMAP) != 0; /* the old range stays mapped, emptied */
    lh_tls.busy++;
    if (!keeps_old)
        had = lh_mappings_remove((uintptr_t)old_address, old_size, &held, removed, RESTORE_ROOM, &removed_count);
    if ((flags & MREMAP_FIXED) && lh_mappings_maybe_tracked(new_address, new_size))
        lh_mappings_remove((uintptr_t)new_address, new_size, NULL, NULL, 0, NULL);
    lh_tls.busy--;
    void *q = NEXT(mremap)(old_address, old_size, new_size, flags, new_address);
    if (q == MAP_FAILED) {
        lh_tls.busy++;
        for (int i = 0; i < removed_count; i++)
            lh_mappings_restore(&removed[i]);
        lh_tls.busy--;
        return q;
    }
    if (lh_countdown_crossed(new_size) && may_sample()) {
        lh_tls.busy++;
        if (lh_sampler_take(&lh_tls, new_size))
            record_mapping(q, new_size, LH_KIND_MMAP_ANON, had ? &held : NULL);
        lh_tls.busy--;
    }
    return q;
}

LH_EXPORT void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
{
    void *new_address = NULL;
    if (flags & MREMAP_FIXED) {
        va_list rest;
        va_start(rest, flags);
        new_address = va_arg(rest, void *);
        va_end(rest);
    }
    if (LH_UNLIKELY(lh_mappings_maybe_tracked(old_address, old_size) ||
                    ((flags & MREMAP_FIXED) && lh_mappings_maybe_tracked(new_address, new_size))))
        return remap_tracked(old_address, old_size, new_size, flags, new_address);
    void *q = NEXT(mremap)(old_address, old_size, new_size, flags, new_address);
    /* An untracked mapping resized or moved: a new sample, as realloc of an unsampled block (its kind unknown
     * here, it is counted as anonymous). */
    if (LH_UNLIKELY(lh_countdown_crossed(new_size)))
        return after_mapping(q, new_size, PROT_READ, MAP_ANONYMOUS, -1, (uintptr_t)__builtin_return_address(0));
    return q;
}

/* ---- for dlsym ---- */

LH_SELF(mmap)
LH_SELF(mmap64)
LH_SELF(munmap)
LH_SELF(mremap)

LH_HIDDEN void *lh_interpose_mmap_substitute(const char *name, void *found)
{
    if (!found)
        return NULL;
    if (strcmp(name, "mmap") == 0)
        return found == (void *)NEXT(mmap) ? (void *)&self_mmap : NULL;
    if (strcmp(name, "mmap64") == 0)
        return found == (void *)NEXT(mmap64) ? (void *)&self_mmap64 : NULL;
    if (strcmp(name, "munmap") == 0)
        return found == (void *)NEXT(munmap) ? (void *)&self_munmap : NULL;
    if (strcmp(name, "mremap") == 0)
        return found == (void *)NEXT(mremap) ? (void *)&self_mremap : NULL;
    return NULL;
}

/* Attach (attach.c): as lh_interpose_bind_next, for the mmap family. */
LH_HIDDEN void lh_interpose_mmap_bind_next(const char *name, void *function)
{
    if (!function)
        return;
    if (strcmp(name, "mmap") == 0)
        __atomic_store_n(&next_mmap, (mmap_function)function, __ATOMIC_RELEASE);
    else if (strcmp(name, "mmap64") == 0)
        __atomic_store_n(&next_mmap64, (mmap_function)function, __ATOMIC_RELEASE);
    else if (strcmp(name, "munmap") == 0)
        __atomic_store_n(&next_munmap, (int (*)(void *, size_t))function, __ATOMIC_RELEASE);
    else if (strcmp(name, "mremap") == 0)
        __atomic_store_n(&next_mremap, (mremap_function)function, __ATOMIC_RELEASE);
}
