/*
 * The malloc family, interposed by LD_PRELOAD and forwarded to the next allocator in link order
 * (glibc's, or jemalloc/tcmalloc preloaded after us), resolved once with dlsym(RTLD_NEXT).
 *
 * The unsampled path of every allocation is: call the next allocator, subtract the size from the
 * thread's countdown, test the sign. The unsampled path of free is: one byte of the address filter,
 * tested against zero. No lock, no allocation, no init branch on either: until the next allocator is
 * resolved, the next_* pointers point at boot_* functions that resolve it (serving dlsym's own
 * allocations from a static bootstrap buffer), and bootstrap blocks are pinned in the address filter so
 * that free() and realloc() of them take the slow path, which recognises them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "interpose.h"
#include "liveness.h"
#include "sampler.h"
#include "stacks.h"
#include "state.h"

/* The functions we forward to: name, return type, parameters. */
#define LH_NEXT_FUNCTIONS(X)                                                                                \
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
LH_NEXT_FUNCTIONS(DECLARE_BOOT)
#define DECLARE_NEXT(name, ret, params) static ret(*next_##name) params = boot_##name;
LH_NEXT_FUNCTIONS(DECLARE_NEXT)
#define NEXT(name) __atomic_load_n(&next_##name, __ATOMIC_RELAXED)

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
        LH_NEXT_FUNCTIONS(RESOLVE)
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

/* ---- sampling ---- */

/* Subtracts `size` from the thread's countdown; true when a sample point fell inside this block. */
static inline bool countdown_crossed(size_t size)
{
    lh_tls.bytes_until_sample = (int64_t)((uint64_t)lh_tls.bytes_until_sample - (uint64_t)size);
    return lh_tls.bytes_until_sample <= 0;
}

static uint32_t now_deciseconds(void)
{
    uint64_t now = lh_coarse_monotonic_ns(); /* a tick's resolution is plenty for deciseconds */
    return now > lh_start_monotonic_ns ? (uint32_t)((now - lh_start_monotonic_ns) / 100000000u) : 0;
}

static void record_sample(void *p, size_t size)
{
    /* Sized by the configured depth (default 64): a malloc hook must not eat a small thread stack. */
    uintptr_t pcs[lh_config.max_stack_depth];
    struct lh_java_frame java[lh_config.max_stack_depth];
    int depth = lh_stacks_capture(pcs, (int)lh_config.max_stack_depth);
    int java_depth = lh_agent_java_stack(java, (int)lh_config.max_stack_depth);
    double weight = lh_sample_weight(size, atomic_load_explicit(&lh_sample_generation, memory_order_relaxed));
    uint32_t stack_id = lh_stacks_intern(pcs, depth, java, java_depth, size, weight);
    atomic_fetch_add_explicit(&lh_counters.samples, 1, memory_order_relaxed);
    lh_live_insert((uintptr_t)p, size, stack_id, now_deciseconds());
}

/* The slow path of every allocation whose countdown crossed zero. */
static __attribute__((noinline, cold)) void *after_allocation(void *p, size_t size)
{
    if (lh_tls.busy | lh_tls.quiet)
        return p; /* the guard first: our own allocations, or a signal handler interrupting us */
    int state = atomic_load_explicit(&lh_run_state, memory_order_relaxed);
    if (state != LH_ON) {
        if (state == LH_OFF)
            lh_tls.bytes_until_sample = INT64_MAX / 2; /* never come back here */
        return p;
    }
    lh_tls.busy++;
    if (lh_sampler_take(&lh_tls, size) && p)
        record_sample(p, size);
    lh_tls.busy--;
    return p;
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
            atomic_fetch_add_explicit(&lh_counters.missed_frees, 1, memory_order_relaxed);
        return false;
    }
    if (state != LH_ON)
        return false;
    lh_tls.busy++;
    /* Before the next free: once freed, another thread may get this address back and sample it. */
    *found = lh_live_remove((uintptr_t)p, removed);
    if (*found)
        atomic_fetch_add_explicit(&lh_counters.sampled_frees, 1, memory_order_relaxed);
    lh_tls.busy--;
    return false;
}

/* ---- the exported family ---- */

LH_EXPORT void *malloc(size_t size)
{
    void *p = NEXT(malloc)(size);
    if (LH_UNLIKELY(countdown_crossed(size)))
        return after_allocation(p, size);
    return p;
}

LH_EXPORT void free(void *p)
{
    if (LH_UNLIKELY(lh_live_maybe_sampled(p))) {
        struct lh_live_entry removed;
        bool found;
        if (forget_block(p, &removed, &found))
            return;
    }
    NEXT(free)(p);
}

LH_EXPORT void *calloc(size_t count, size_t size)
{
    void *p = NEXT(calloc)(count, size);
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes))
        return p;
    if (LH_UNLIKELY(countdown_crossed(bytes)))
        return after_allocation(p, bytes);
    return p;
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
    void *q = NEXT(realloc)(p, size);
    if (!q && size != 0 && found) /* the block stayed where it was: it is still live */
        lh_live_insert((uintptr_t)p, removed.size, removed.stack_id, removed.alloc_time_ds);
    if (countdown_crossed(size))
        return after_allocation(q, size);
    return q;
}

LH_EXPORT void *realloc(void *p, size_t size)
{
    if (LH_UNLIKELY(p && lh_live_maybe_sampled(p)))
        return realloc_known_block(p, size);
    void *q = NEXT(realloc)(p, size);
    if (LH_UNLIKELY(countdown_crossed(size)))
        return after_allocation(q, size);
    return q;
}

LH_EXPORT void *reallocarray(void *p, size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, bytes);
}

LH_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
    int error = NEXT(posix_memalign)(out, alignment, size);
    if (LH_UNLIKELY(countdown_crossed(size)) && error == 0)
        after_allocation(*out, size);
    return error;
}

#define ALIGNED_WRAPPER(name, params, args, size_expression)                                                 \
    LH_EXPORT void *name params                                                                              \
    {                                                                                                        \
        void *p = NEXT(name) args;                                                                           \
        if (LH_UNLIKELY(countdown_crossed(size_expression)))                                                 \
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
    return NEXT(malloc_usable_size)(p);
}
