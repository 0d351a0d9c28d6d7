/*
 * The malloc family, interposed by LD_PRELOAD and forwarded to the next allocator in link order
 * (glibc's, or jemalloc/tcmalloc preloaded after us), resolved once with dlsym(RTLD_NEXT).
 *
 * The unsampled path of malloc and calloc is: subtract the size from the thread's countdown, test the sign,
 * jump to the next allocator (no frame of ours stays on the stack); realloc and the aligned family, less hot,
 * still decide after the call. The unsampled path of free is: one byte of the address filter,
 * tested against zero, then a jump. No lock, no allocation, no init branch on either: until the next allocator is
 * resolved, the next_* pointers point at boot_* functions that resolve it (serving dlsym's own
 * allocations from a static bootstrap buffer), and bootstrap blocks are pinned in the address filter so
 * that free() and realloc() of them take the slow path, which recognises them.
 *
 * Hot path cost (bench/malloc-pairs and the peer malloc-bench, `npm run bench`): the unsampled malloc+free pair
 * costs 2–3 ns more than the bare allocator — a TLS subtraction, a sign test, a byte load from the filter, two
 * indirect jumps (deciding before the call instead of after it saved 1–2 ns a pair). A sampled allocation costs
 * ~140 ns with 4 frames and ~350 ns with 34 (capture through the unwind tables, lock-free intern, insert, and its
 * free's remove; bench/RESULTS.md; several times that when its lines are cold), about half of it unwinding (stacks.c); its frames go to a scratch slot
 * (scratch.c), not to the target's stack. A sampled realloc of a sampled block keeps the old block's stack and birth
 * time (lineage, FORMAT.md): no capture at all.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "interpose.h"
#include "liveness.h"
#include "sampler.h"
#include "scratch.h"
#include "stacks.h"
#include "state.h"

/* The functions we forward to: name, return type, parameters. */
#define NEXT_ALLOCATOR_FUNCTIONS(X)                                                                          \
    X(malloc, void *, (size_t))                                                                              \
    X(free, void, (void *))                                                                                  \
    X(calloc, void *, (size_t, size_t))                                                                      \
    X(realloc, void *, (void *, size_t))                                                                     \
    X(posix_memalign, int, (void **, size_t, size_t))                                                        \
    X(aligned_alloc, void *, (size_t, size_t))                                                               \
    X(memalign, void *, (size_t, size_t))                                                                    \
    X(valloc, void *, (size_t))                                                                              \
    X(pvalloc, void *, (size_t))                                                                             \
    X(malloc_usable_size, size_t, (void *))

#define DECLARE_BOOT(name, ret, params) static ret boot_##name params;
NEXT_ALLOCATOR_FUNCTIONS(DECLARE_BOOT)
#define DECLARE_NEXT(name, ret, params) static ret(*next_##name) params = boot_##name;
NEXT_ALLOCATOR_FUNCTIONS(DECLARE_NEXT)
/* The next allocator's `name`: a boot_* function until lh_interpose_resolve() has run. */
#define NEXT_ALLOCATOR(name) __atomic_load_n(&next_##name, __ATOMIC_RELAXED)

/* ---- bootstrap memory, for the allocations dlsym makes before malloc is resolved ---- */

#define BOOTSTRAP_BYTES (64 * 1024)
static char bootstrap[BOOTSTRAP_BYTES] __attribute__((aligned(16)));
static _Atomic size_t bootstrap_used;

static bool is_bootstrap(const void *p)
{
    return (uintptr_t)p - (uintptr_t)bootstrap < sizeof bootstrap;
}

static void *bootstrap_alloc(size_t size)
{
    size_t need = 16 + ((size + 15) & ~(size_t)15);
    size_t at = atomic_fetch_add(&bootstrap_used, need);
    if (size > BOOTSTRAP_BYTES || at + need > sizeof bootstrap) {
        errno = ENOMEM;
        return NULL;
    }
    *(size_t *)(bootstrap + at) = size; /* the header: realloc and malloc_usable_size need the size */
    void *p = bootstrap + at + 16;
    lh_filter_pin(p);
    return p;
}

static size_t bootstrap_size(const void *p)
{
    return *(const size_t *)((const char *)p - 16);
}

/* ---- resolution ---- */

static void *next_reallocarray_found;

static _Atomic int resolve_state; /* 0 not started, 1 under way, 2 done */
static _Atomic pid_t resolver_thread;

static int fallback_posix_memalign(void **out, size_t alignment, size_t size);
static void *fallback_aligned_alloc(size_t alignment, size_t size);
static void *fallback_valloc(size_t size);
static void *fallback_pvalloc(size_t size);
static size_t fallback_malloc_usable_size(void *p);

LH_HIDDEN void lh_interpose_resolve(void)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&resolve_state, &expected, 1)) {
        atomic_store(&resolver_thread, gettid());
        /* free first: blocks malloc hands out while the rest resolves must be freeable. */
        void *f;
#define RESOLVE(name, ret, params)                                                                           \
    if ((f = dlsym(RTLD_NEXT, #name)) != NULL)                                                               \
        __atomic_store_n(&next_##name, (ret(*) params)f, __ATOMIC_RELEASE);
        RESOLVE(free, void, (void *))
        NEXT_ALLOCATOR_FUNCTIONS(RESOLVE)
#undef RESOLVE
        /* Allocators that lack the obsolete entry points get equivalents built on posix_memalign. */
        if (next_posix_memalign == boot_posix_memalign)
            next_posix_memalign = fallback_posix_memalign;
        if (next_aligned_alloc == boot_aligned_alloc)
            next_aligned_alloc = fallback_aligned_alloc;
        if (next_memalign == boot_memalign)
            next_memalign = fallback_aligned_alloc;
        if (next_valloc == boot_valloc)
            next_valloc = fallback_valloc;
        if (next_pvalloc == boot_pvalloc)
            next_pvalloc = fallback_pvalloc;
        if (next_malloc_usable_size == boot_malloc_usable_size)
            next_malloc_usable_size = fallback_malloc_usable_size;
        /* Not forwarded to (ours is realloc's), only recognised when dlsym finds it (lh_interpose_substitute). */
        next_reallocarray_found = dlsym(RTLD_NEXT, "reallocarray");
        atomic_store(&resolve_state, 2);
        return;
    }
    while (atomic_load(&resolve_state) != 2) {
        if (atomic_load(&resolver_thread) == gettid())
            return; /* dlsym itself allocating: the caller serves it from bootstrap */
        sched_yield();
    }
}

static void *boot_malloc(size_t size)
{
    lh_interpose_resolve();
    return next_malloc == boot_malloc ? bootstrap_alloc(size) : next_malloc(size);
}

static void *boot_calloc(size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    lh_interpose_resolve();
    return next_calloc == boot_calloc ? bootstrap_alloc(bytes) : next_calloc(count, size);
}

static void boot_free(void *p)
{
    if (is_bootstrap(p))
        return;
    lh_interpose_resolve();
    if (next_free != boot_free)
        next_free(p);
}

static void *boot_realloc(void *p, size_t size)
{
    lh_interpose_resolve();
    if (next_realloc != boot_realloc)
        return next_realloc(p, size);
    void *q = bootstrap_alloc(size);
    if (q && p)
        memcpy(q, p, size); /* p can only be a bootstrap block here, and blocks only grow */
    return q;
}

/* The rest are never called by dlsym: resolve, then forward. */
static int boot_posix_memalign(void **out, size_t alignment, size_t size)
{
    lh_interpose_resolve();
    return next_posix_memalign == boot_posix_memalign ? ENOMEM : next_posix_memalign(out, alignment, size);
}
#define BOOT_FORWARD(name, params, args)                                                                     \
    static void *boot_##name params                                                                          \
    {                                                                                                        \
        lh_interpose_resolve();                                                                              \
        return next_##name == boot_##name ? NULL : next_##name args;                                         \
    }
BOOT_FORWARD(aligned_alloc, (size_t alignment, size_t size), (alignment, size))
BOOT_FORWARD(memalign, (size_t alignment, size_t size), (alignment, size))
BOOT_FORWARD(valloc, (size_t size), (size))
BOOT_FORWARD(pvalloc, (size_t size), (size))

static size_t boot_malloc_usable_size(void *p)
{
    lh_interpose_resolve();
    return next_malloc_usable_size == boot_malloc_usable_size ? 0 : next_malloc_usable_size(p);
}

static int fallback_posix_memalign(void **out, size_t alignment, size_t size)
{
    (void)out, (void)alignment, (void)size;
    return ENOMEM;
}

static void *fallback_aligned_alloc(size_t alignment, size_t size)
{
    void *p = NULL;
    int error = next_posix_memalign(&p, alignment, size);
    if (error) {
        errno = error;
        return NULL;
    }
    return p;
}

static void *fallback_valloc(size_t size)
{
    return fallback_aligned_alloc((size_t)sysconf(_SC_PAGESIZE), size);
}

static void *fallback_pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return fallback_aligned_alloc(page, (size + page - 1) & ~(page - 1));
}

static size_t fallback_malloc_usable_size(void *p)
{
    (void)p;
    return 0;
}

/* ---- the next allocator's own code ---- */

static uintptr_t allocator_text_start, allocator_text_end;

LH_HIDDEN void lh_interpose_locate_allocator(void)
{
    struct lh_text_range next = lh_text_range_of((uintptr_t)NEXT_ALLOCATOR(malloc));
    struct lh_text_range libc = lh_text_range_of((uintptr_t)&gnu_get_libc_version); /* glibc's alone */
    /* glibc's malloc maps through its own internal calls, never ours; and a program that carries its own allocator
     * is the program: its mmaps are the call sites we are here for. */
    if (next.main_program || next.start == libc.start)
        return;
    allocator_text_start = next.start;
    allocator_text_end = next.end;
}

LH_HIDDEN bool lh_interpose_in_allocator(uintptr_t pc)
{
    return pc >= allocator_text_start && pc < allocator_text_end;
}

/* ---- sampling ---- */

LH_HIDDEN uint32_t lh_now_deciseconds(void)
{
    return (uint32_t)(lh_coarse_since_start_ns() / LH_DECISECOND_NS); /* a tick's resolution is plenty */
}

LH_HIDDEN bool lh_sample_stack(enum lh_stack_kind kind, uint64_t size, double weight, uint32_t *stack_id)
{
    /* The frames go to a slot of the shim's own memory, not to this thread's stack, which may be small. */
    struct lh_sample_scratch *scratch = lh_scratch_claim(&lh_tls);
    if (!scratch)
        return false;
    int depth = lh_stacks_capture(scratch->pcs, (int)lh_config.max_stack_depth);
    int java_depth = lh_agent_java_stack(scratch->java, (int)lh_config.max_stack_depth);
    *stack_id = lh_stacks_intern(scratch->pcs, depth, scratch->java, java_depth, kind, size, weight);
    lh_scratch_release(scratch);
    return true;
}

/*
 * A sampled block. With `ancestor` — the live entry of the block a realloc moved or resized, when that one was
 * sampled — it keeps the ancestor's stack and birth time (lineage, FORMAT.md): a buffer renewed as it grows is as old
 * as its first sampled allocation, and its bytes stay with the stack that started it. Whether it is sampled at all
 * was decided by the countdown, as for any block, so the estimates keep their weights.
 */
static void record_sample(void *p, size_t size, const struct lh_live_entry *ancestor)
{
    lh_live_prefetch((uintptr_t)p);
    LH_COUNT(samples, 1);
    double weight = lh_sample_weight(size, lh_sampler_generation());
    uint32_t stack_id, born;
    if (ancestor) {
        stack_id = ancestor->stack_id;
        born = ancestor->alloc_time_ds;
        lh_stacks_count_sample(stack_id, size, weight);
    } else if (lh_sample_stack(LH_KIND_MALLOC, size, weight, &stack_id)) {
        born = lh_now_deciseconds();
    } else {
        LH_COUNT(table_drops, 1);
        return;
    }
    /* What the allocator counts as in use, taken here, on the allocating thread: never later, from another. */
    size_t usable = NEXT_ALLOCATOR(malloc_usable_size)(p);
    lh_live_insert((uintptr_t)p, size, usable > size ? usable : size, stack_id, born);
}

/* The slow path of every allocation whose countdown crossed zero; `ancestor` as for record_sample. */
static __attribute__((noinline, cold)) void *after_reallocation(void *p, size_t size, const struct lh_live_entry *ancestor)
{
    if (lh_tls.busy | lh_tls.quiet)
        return p; /* the guard first: our own allocations, or a signal handler interrupting us */
    int state = atomic_load_explicit(&lh_run_state, memory_order_relaxed);
    if (state != LH_ON) {
        if (state == LH_OFF)
            lh_tls.bytes_until_sample = INT64_MAX / 2; /* never come back here */
        else if (state == LH_PAUSED)
            lh_sampler_take(&lh_tls, size); /* rearmed, unrecorded: a later attach finds a Poisson countdown */
        return p;
    }
    lh_tls.busy++;
    if (lh_sampler_take(&lh_tls, size) && p)
        record_sample(p, size, ancestor);
    lh_tls.busy--;
    return p;
}

static __attribute__((noinline, cold)) void *after_allocation(void *p, size_t size)
{
    return after_reallocation(p, size, NULL);
}

/* The slow path of free/realloc for pointers the filter could not rule out. Returns true for bootstrap
 * blocks, which must not reach the next allocator. */
static __attribute__((noinline, cold)) bool forget_block(void *p, struct lh_live_entry *removed, bool *found)
{
    *found = false;
    if (is_bootstrap(p))
        return true;
    int state = atomic_load_explicit(&lh_run_state, memory_order_relaxed);
    if (lh_tls.busy) {
        if (state == LH_ON)
            LH_COUNT(missed_frees, 1);
        return false;
    }
    if (state != LH_ON)
        return false;
    lh_tls.busy++;
    /* Before the next free: once freed, another thread may get this address back and sample it. */
    *found = lh_live_remove((uintptr_t)p, removed);
    if (*found)
        LH_COUNT(sampled_frees, 1);
    lh_tls.busy--;
    return false;
}

/* ---- the exported family ---- */

/* The sampled paths of malloc and calloc, out of line: the countdown is decided before the call, so that the
 * unsampled path ends in a jump to the next allocator, with no frame of its own. */
static __attribute__((noinline, cold)) void *sampled_malloc(size_t size)
{
    return after_allocation(NEXT_ALLOCATOR(malloc)(size), size);
}

static __attribute__((noinline, cold)) void *sampled_calloc(size_t count, size_t size)
{
    return after_allocation(NEXT_ALLOCATOR(calloc)(count, size), count * size);
}

LH_EXPORT void *malloc(size_t size)
{
    if (LH_UNLIKELY(lh_countdown_crossed(size)))
        return sampled_malloc(size);
    return NEXT_ALLOCATOR(malloc)(size);
}

LH_EXPORT void free(void *p)
{
    if (LH_UNLIKELY(lh_live_maybe_sampled(p))) {
        struct lh_live_entry removed;
        bool found;
        if (forget_block(p, &removed, &found))
            return;
    }
    NEXT_ALLOCATOR(free)(p);
}

LH_EXPORT void *calloc(size_t count, size_t size)
{
    size_t bytes;
    /* An overflowing request is the next allocator's to refuse; it allocates nothing to sample. */
    if (LH_LIKELY(!__builtin_mul_overflow(count, size, &bytes)) && LH_UNLIKELY(lh_countdown_crossed(bytes)))
        return sampled_calloc(count, size);
    return NEXT_ALLOCATOR(calloc)(count, size);
}

static __attribute__((noinline)) void *realloc_known_block(void *p, size_t size)
{
    struct lh_live_entry removed;
    bool found;
    if (forget_block(p, &removed, &found)) {
        /* A bootstrap block moving to the real allocator. */
        void *q = malloc(size);
        if (q) {
            size_t old = bootstrap_size(p);
            memcpy(q, p, old < size ? old : size);
        }
        return q;
    }
    void *q = NEXT_ALLOCATOR(realloc)(p, size);
    if (!q && size != 0 && found) /* the block stayed where it was: it is still live */
        lh_live_insert((uintptr_t)p, removed.size, removed.usable_size, removed.stack_id, removed.alloc_time_ds);
    if (lh_countdown_crossed(size))
        return after_reallocation(q, size, found && q ? &removed : NULL);
    return q;
}

LH_EXPORT void *realloc(void *p, size_t size)
{
    if (LH_UNLIKELY(p && lh_live_maybe_sampled(p)))
        return realloc_known_block(p, size);
    void *q = NEXT_ALLOCATOR(realloc)(p, size);
    if (LH_UNLIKELY(lh_countdown_crossed(size)))
        return after_allocation(q, size);
    return q;
}

extern LH_HIDDEN __typeof__(realloc) self_realloc;

LH_EXPORT void *reallocarray(void *p, size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return self_realloc(p, bytes); /* the shim's own, also when attached (a plain call would bind to libc's) */
}

LH_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
    int error = NEXT_ALLOCATOR(posix_memalign)(out, alignment, size);
    if (LH_UNLIKELY(lh_countdown_crossed(size)) && error == 0)
        after_allocation(*out, size);
    return error;
}

#define ALIGNED_WRAPPER(name, params, args, size_expression)                                                 \
    LH_EXPORT void *name params                                                                              \
    {                                                                                                        \
        void *p = NEXT_ALLOCATOR(name) args;                                                                 \
        if (LH_UNLIKELY(lh_countdown_crossed(size_expression)))                                                 \
            return after_allocation(p, size_expression);                                                     \
        return p;                                                                                            \
    }
ALIGNED_WRAPPER(aligned_alloc, (size_t alignment, size_t size), (alignment, size), size)
ALIGNED_WRAPPER(memalign, (size_t alignment, size_t size), (alignment, size), size)
ALIGNED_WRAPPER(valloc, (size_t size), (size), size)
ALIGNED_WRAPPER(pvalloc, (size_t size), (size), size)

LH_EXPORT size_t malloc_usable_size(void *p)
{
    if (is_bootstrap(p))
        return bootstrap_size(p);
    return NEXT_ALLOCATOR(malloc_usable_size)(p);
}

/* ---- for dlsym ---- */

/* The shim's own entry points (`&malloc` would be whichever malloc comes first in the process). */
#define SELF(name, ret, params) LH_SELF(name)
NEXT_ALLOCATOR_FUNCTIONS(SELF)
LH_SELF(reallocarray)
#undef SELF

LH_HIDDEN void *lh_interpose_substitute(const char *name, void *found)
{
    if (!found || atomic_load(&resolve_state) != 2)
        return NULL;
#define SUBSTITUTE(function, ret, params)                                                                    \
    if (strcmp(name, #function) == 0)                                                                        \
        return found == (void *)NEXT_ALLOCATOR(function) ? (void *)&self_##function : NULL;
    NEXT_ALLOCATOR_FUNCTIONS(SUBSTITUTE)
#undef SUBSTITUTE
    if (strcmp(name, "reallocarray") == 0)
        return found == next_reallocarray_found ? (void *)&self_reallocarray : NULL;
    return NULL;
}

/* Attach (attach.c): forward to the allocator the process already uses, as the loader bound the shim's own references
 * to it — not dlsym(RTLD_NEXT), which from a dlopen'd library skips an allocator preloaded into the process. */
LH_HIDDEN void lh_interpose_bind_next(const char *name, void *function)
{
    if (!function)
        return;
#define BIND(fn, ret, params)                                                                                \
    if (strcmp(name, #fn) == 0)                                                                              \
        __atomic_store_n(&next_##fn, (ret(*) params)function, __ATOMIC_RELEASE);
    NEXT_ALLOCATOR_FUNCTIONS(BIND)
#undef BIND
}
