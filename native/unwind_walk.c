/*
 * The fast stack walk: per frame, the frame's rule from a cache shared by all threads (on a miss: a binary search
 * among the loaded objects, skipped while consecutive frames stay in one object, one directory load and a binary
 * search of a page's rows, unwind_tables.c), then two loads from the stack: the return address at CFA - 8 and,
 * where the rule says rbp was saved, the caller's rbp. The shim's own frames, at the start of every walk, are
 * stepped through by their frame pointers. It reports exactly the frames libgcc's _Unwind_Backtrace reports, and
 * hands the stack to libgcc whenever it is not sure to: a page without a table yet (it asks the builder for it),
 * a rule the tables cannot express (signal frames, DWARF expressions), a pc in an object it has not registered
 * yet, or a generation change of the registry during the walk.
 *
 * Like libgcc it stops at the first frame no object's unwind information covers (JIT-compiled code, JVM stubs),
 * after reporting it; such a pc is told from one in a library loaded since the last scan by glibc's lock-free
 * _dl_find_object.
 *
 * Reads. The tables are the shim's own memory, every index checked. Stack reads are checked against the
 * thread's stack: from the walk's own frame up to the top of the stack. The top is the thread pointer for threads
 * glibc created (their TCB and static TLS sit at the top of the thread's stack block, for stacks it allocated and
 * for stacks the program gave pthread_create alike) and the page above __libc_stack_end for the main thread.
 * It is checked once per thread, and again when the stack goes deeper than ever checked, with mincore() over the
 * whole range (the kernel's word that every page of it is mapped), and never while on a sigaltstack. On top of
 * the bounds, each CFA must lie above the previous one, so a walk always moves up the stack and ends.
 * pthread_getattr_np is not used: it reallocs while holding the thread's own lock, so calling it from a sampled
 * realloc inside a pthread_getattr_np would deadlock (HotSpot calls it on every thread it starts).
 *
 * Cost (bench/unwind-cost): ~5 ns a frame when the pages are built, about 20 times less than libgcc; a thread's
 * first walk adds the bounds check, two system calls (~3 µs).
 */
#define _GNU_SOURCE
#include "unwind_walk.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "state.h"
#include "unwind_tables.h"

#define PAGE_BYTES 4096u
/* The deepest stack the walk reads: its checked pages are counted in a u16 of the thread state. */
#define MAX_STACK_BYTES (UINT64_C(0xfff0) * PAGE_BYTES)
/* A thread whose stack could not be checked this many times keeps using libgcc. */
#define MAX_BOUNDS_FAILURES 8

extern void *__libc_stack_end;

typedef int (*find_object_function)(void *, struct dl_find_object *);
static find_object_function find_object;
static uintptr_t main_stack_top;

/*
 * A cache of rules by pc, shared by all threads, in front of the tables: sampled stacks repeat their call sites,
 * and a hit is one hash and one cache line instead of an object search and a row search of dependent loads. A slot
 * is two words written without a lock: the pc, and the rule with a 32-bit check computed from the pc and the
 * registry generation. A reader trusts a slot only if both words agree with its pc and the current generation,
 * so a torn pair (two threads filling the same slot) or a rule from before the tables changed is ignored.
 */
#define RULE_CACHE_SLOTS 2048u
struct rule_cache_slot {
    _Atomic uint64_t pc;
    _Atomic uint64_t rule_and_check;
};
static struct rule_cache_slot *rule_cache;

LH_HIDDEN bool lh_unwind_init(void)
{
    find_object = (find_object_function)dlsym(RTLD_DEFAULT, "_dl_find_object");
    main_stack_top = ((uintptr_t)__libc_stack_end | (PAGE_BYTES - 1)) + 1;
    rule_cache = lh_map_memory(RULE_CACHE_SLOTS * sizeof *rule_cache);
    return rule_cache != NULL;
}

/* ---- the thread's stack ---- */

static inline uintptr_t thread_pointer(void)
{
    uintptr_t tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}

/* The kernel's word that every page of [start, end) is mapped. */
static bool all_mapped(uintptr_t start, uintptr_t end)
{
    unsigned char vector[256];
    for (uintptr_t at = start; at < end;) {
        uintptr_t bytes = end - at;
        if (bytes > sizeof vector * PAGE_BYTES)
            bytes = sizeof vector * PAGE_BYTES;
        if (mincore((void *)at, bytes, vector) != 0)
            return false;
        at += bytes;
    }
    return true;
}

/* The lowest address of the checked part of the thread's stack: whole pages below the page stack_high is in (a
 * thread pointer need not be page-aligned). */
static inline uintptr_t checked_low(const struct lh_thread_state *ts)
{
    return ((ts->stack_high + PAGE_BYTES - 1) & ~(uintptr_t)(PAGE_BYTES - 1)) - (uintptr_t)ts->stack_pages * PAGE_BYTES;
}

/* The slow part of the bounds: the first sample of a thread, or a stack deeper than checked so far. */
static __attribute__((noinline, cold)) bool check_stack(struct lh_thread_state *ts, uintptr_t sp)
{
    if (ts->stack_checks_failed >= MAX_BOUNDS_FAILURES)
        return false;
    int saved_errno = errno;
    uintptr_t low = sp & ~(uintptr_t)(PAGE_BYTES - 1), high = 0, tp = thread_pointer();
    if (tp > sp && tp - sp <= MAX_STACK_BYTES)
        high = tp;
    else if (main_stack_top > sp && main_stack_top - sp <= MAX_STACK_BYTES)
        high = main_stack_top;
    stack_t alternate;
    bool ok = high != 0 && sigaltstack(NULL, &alternate) == 0 && !(alternate.ss_flags & SS_ONSTACK);
    if (ok) {
        /* Deeper on a stack already checked: only the new part needs the kernel's word. */
        bool same_stack = ts->stack_high == high && ts->stack_pages != 0 && checked_low(ts) > low;
        ok = all_mapped(low, same_stack ? checked_low(ts) : high);
    }
    if (ok) {
        ts->stack_high = high;
        ts->stack_pages = (uint16_t)((((high + PAGE_BYTES - 1) & ~(uintptr_t)(PAGE_BYTES - 1)) - low) / PAGE_BYTES);
    } else {
        ts->stack_checks_failed++;
    }
    errno = saved_errno;
    return ok;
}

/* The top of the stack the walk starting at `sp` may read up to, or 0. */
static inline uintptr_t stack_top(uintptr_t sp)
{
    struct lh_thread_state *ts = &lh_tls;
    if (LH_LIKELY(sp < ts->stack_high && sp >= checked_low(ts)))
        return ts->stack_high;
    return check_stack(ts, sp) ? ts->stack_high : 0;
}

static inline uintptr_t load_word(uintptr_t at)
{
    uintptr_t word;
    memcpy(&word, (const void *)at, sizeof word);
    return word;
}

/* ---- the tables ---- */

static inline uint32_t arena_load(uint32_t index)
{
    return __atomic_load_n(&lh_unwind_arena[index], __ATOMIC_RELAXED);
}

/* The object the walk is in: consecutive frames are mostly in the same one. */
struct current_object {
    uintptr_t start, length;
    uint32_t index, directory, pages;
};

enum lookup { FOUND, NOT_IN_ANY_OBJECT, NO_RULE };

static bool find_range(uintptr_t x, uint32_t count, struct current_object *o)
{
    const struct lh_unwind_range *ranges = lh_unwind_registry.ranges;
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (__atomic_load_n(&ranges[mid].start, __ATOMIC_RELAXED) <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return false;
    const struct lh_unwind_range *r = &ranges[lo - 1];
    uintptr_t start = __atomic_load_n(&r->start, __ATOMIC_RELAXED), end = __atomic_load_n(&r->end, __ATOMIC_RELAXED);
    if (x >= end)
        return false;
    *o = (struct current_object){start, end - start, lo - 1, __atomic_load_n(&r->directory, __ATOMIC_ACQUIRE),
                                 __atomic_load_n(&r->pages, __ATOMIC_RELAXED)};
    return true;
}

static inline enum lookup rule_at(uintptr_t x, struct current_object *o, uint64_t generation, uint32_t count,
                                  uint32_t *rule)
{
    if (x - o->start >= o->length && !find_range(x, count, o))
        return NOT_IN_ANY_OBJECT;
    uint32_t page = (uint32_t)((x - o->start) >> LH_UNWIND_PAGE_SHIFT);
    if (page >= o->pages) /* pages is 0 for an object without usable unwind tables: libgcc's */
        return NO_RULE;
    if (o->directory == 0) {
        lh_unwind_request_page(generation, o->index, page); /* the builder gives the object its directory */
        return NO_RULE;
    }
    if ((uint64_t)o->directory + page >= lh_unwind_arena_words)
        return NO_RULE;
    uint32_t block = __atomic_load_n(&lh_unwind_arena[o->directory + page], __ATOMIC_ACQUIRE);
    if (block < LH_PAGE_ROWS_MIN) {
        if (block == LH_PAGE_UNKNOWN)
            lh_unwind_request_page(generation, o->index, page);
        return NO_RULE;
    }
    uint32_t rows = block < lh_unwind_arena_words ? arena_load(block) : 0;
    if (rows == 0 || rows > LH_UNWIND_MAX_PAGE_ROWS || (uint64_t)block + 1 + 2 * (uint64_t)rows > lh_unwind_arena_words)
        return NO_RULE;
    uint32_t offset = (uint32_t)(x - o->start) & ((1u << LH_UNWIND_PAGE_SHIFT) - 1);
    uint32_t lo = 0, hi = rows;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (arena_load(block + 1 + 2 * mid) <= offset)
            lo = mid;
        else
            hi = mid;
    }
    *rule = arena_load(block + 2 + 2 * lo);
    return FOUND;
}

/* Shift and xor, no multiply: the slot's address is on the walk's critical path, one frame after another. */
static inline struct rule_cache_slot *cache_slot(uintptr_t x)
{
    return &rule_cache[(x ^ (x >> 11)) & (RULE_CACHE_SLOTS - 1)];
}

static inline uint64_t cache_check(uintptr_t x, uint64_t generation)
{
    return ((x ^ (generation << 47)) * 0xD6E8FEB86659FD93ull) & 0xffffffff00000000ull;
}

/* A pc in none of our objects: JIT code (the walk ends, as libgcc's does), or an object loaded since the last
 * scan (libgcc knows it). */
static bool known_to_the_loader(uintptr_t x)
{
    struct dl_find_object found;
    return !find_object || find_object((void *)x, &found) == 0;
}

/* ---- asking for pages ---- */

static void want(uintptr_t x, struct current_object *object, uint64_t generation, uint32_t count)
{
    uint32_t rule;
    rule_at(x, object, generation, count, &rule); /* a page without a table is requested on the way */
}

LH_HIDDEN void lh_unwind_want_pcs(const uintptr_t *pcs, int count)
{
    if (!lh_unwind_arena)
        return;
    uint64_t generation = atomic_load_explicit(&lh_unwind_registry.generation, memory_order_acquire);
    uint32_t objects = atomic_load_explicit(&lh_unwind_registry.count, memory_order_relaxed);
    if ((generation & 1) || objects > LH_UNWIND_MAX_OBJECTS)
        return;
    struct current_object object = {0, 0, 0, 0, 0};
    for (int i = 0; i < count; i++)
        want(pcs[i] - 1, &object, generation, objects);
}

LH_HIDDEN void lh_unwind_want_range(uintptr_t start, uintptr_t end)
{
    if (!lh_unwind_arena)
        return;
    uint64_t generation = atomic_load_explicit(&lh_unwind_registry.generation, memory_order_acquire);
    uint32_t objects = atomic_load_explicit(&lh_unwind_registry.count, memory_order_relaxed);
    if ((generation & 1) || objects > LH_UNWIND_MAX_OBJECTS)
        return;
    struct current_object object = {0, 0, 0, 0, 0};
    for (uintptr_t x = start; x < end; x += 1u << LH_UNWIND_PAGE_SHIFT)
        want(x, &object, generation, objects);
}

/* ---- the walk ---- */

LH_HIDDEN __attribute__((noinline)) int lh_unwind_capture(uintptr_t *pcs, int max_depth, uintptr_t skip_start,
                                                          uintptr_t skip_end)
{
    /* This function keeps a frame pointer (the shim is built with one): its CFA is rbp + 16, and the caller's
     * state — return address, rbp, stack pointer — is read from that frame. */
    const uintptr_t *frame = __builtin_frame_address(0);
    uintptr_t sp = (uintptr_t)(frame + 2), bp = frame[0], pc = frame[1];
    uintptr_t high = stack_top((uintptr_t)frame);
    if (!high || !lh_unwind_arena)
        return LH_UNWIND_USE_LIBGCC;
    uint64_t generation = atomic_load_explicit(&lh_unwind_registry.generation, memory_order_acquire);
    if (generation & 1)
        return LH_UNWIND_USE_LIBGCC;
    uint32_t count = atomic_load_explicit(&lh_unwind_registry.count, memory_order_relaxed);
    if (count > LH_UNWIND_MAX_OBJECTS)
        return LH_UNWIND_USE_LIBGCC;
    struct current_object object = {0, 0, 0, 0, 0};
    int depth = 0;
    while (pc != 0) {
        if (pc - skip_start < skip_end - skip_start) {
            /* The shim's own frames (malloc's wrapper and what it calls), left out of the stack: the shim is built
             * with frame pointers, and a return address is a call site in a function's body, where the frame is
             * set up: CFA = rbp + 16, rbp saved at CFA - 16. No rule to look up. */
            uintptr_t cfa = bp + 16;
            if (cfa < sp + 8 || cfa > high)
                break;
            pc = load_word(cfa - 8);
            bp = load_word(cfa - 16);
            sp = cfa;
            continue;
        }
        pcs[depth++] = pc;
        if (depth >= max_depth)
            break;
        /* pc is a return address: the call is the instruction before it. */
        uintptr_t x = pc - 1;
        struct rule_cache_slot *slot = cache_slot(x);
        uint64_t check = cache_check(x, generation);
        uint64_t cached = atomic_load_explicit(&slot->rule_and_check, memory_order_relaxed);
        uint32_t rule = (uint32_t)cached;
        enum lookup found = FOUND;
        if (atomic_load_explicit(&slot->pc, memory_order_relaxed) != x || (cached & 0xffffffff00000000ull) != check) {
            found = rule_at(x, &object, generation, count, &rule);
            if (found == FOUND) {
                atomic_store_explicit(&slot->pc, x, memory_order_relaxed);
                atomic_store_explicit(&slot->rule_and_check, check | rule, memory_order_relaxed);
            }
        }
        if (found == NOT_IN_ANY_OBJECT) {
            if (known_to_the_loader(x))
                return LH_UNWIND_USE_LIBGCC;
            break;
        }
        uint32_t kind = lh_rule_kind(rule);
        if (found == NO_RULE || (kind != LH_RULE_CFA_RSP && kind != LH_RULE_CFA_RBP)) {
            if (found == FOUND && kind == LH_RULE_END)
                break;
            return LH_UNWIND_USE_LIBGCC;
        }
        uintptr_t cfa = (kind == LH_RULE_CFA_RSP ? sp : bp) + lh_rule_cfa_offset(rule);
        /* Up the stack, inside it: a CFA that is not is a bad frame pointer, and the walk ends here. */
        if (cfa < sp + 8 || cfa > high)
            break;
        uintptr_t return_address = load_word(cfa - 8);
        if (lh_rule_rbp_saved(rule)) {
            uintptr_t at = cfa + (uintptr_t)((intptr_t)lh_rule_rbp_slot(rule) * 8);
            if (at < sp || at > high - 8)
                break;
            bp = load_word(at);
        }
        sp = cfa;
        pc = return_address;
    }
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&lh_unwind_registry.generation, memory_order_relaxed) != generation)
        return LH_UNWIND_USE_LIBGCC;
    return depth;
}
