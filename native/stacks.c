/*
 * Stack capture and the bounded table of distinct stacks.
 *
 * Capture: the shim's own unwinder (unwind_walk.c, tables built by unwind_tables.c), with libgcc's DWARF unwinder
 * for whatever the tables cannot say. With glibc >= 2.35 libgcc finds unwind tables through _dl_find_object, which
 * takes no lock and does not allocate, so it is usable inside malloc. Both only ever run on sampled allocations.
 *
 * The table interns stacks without a lock on the way of a stack already known (every sample but a stack's first):
 * an index of 2 × capacity u32 slots (open addressing on the frames' hash) read with acquire loads, dense entries,
 * and a frame arena filled front to back. A new stack is added under one of 64 stripe locks chosen by its hash, so
 * two threads adding the same stack add it once: its entry and frames are written first, then its slot is claimed
 * with a compare-and-swap (another stripe may take the same slot first: the probe goes on). Ids are handed out in
 * order and never reused or moved, so snapshots can refer to them for the life of the process; the count a
 * snapshot sees covers only the ids whose entries are complete. Per-stack counts are atomic, and kept apart from
 * the entries (struct stack_allocs), which only lookups read once written.
 *
 * Cost of an intern: hashing the frames, one or two index probes and a compare of the frames (~20 ns at 30
 * frames); the stats, three atomic additions on the stack's counts.
 */
#define _GNU_SOURCE
#include "stacks.h"

#include "fpwalk.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unwind.h>

#include "unwind_walk.h"
#include "unwind_tables.h"

struct stack_entry {
    uint64_t hash;
    uint64_t arena_offset; /* native pcs, then two words (method id, bci) per Java frame */
    uint16_t depth;
    uint16_t java_depth;
    uint32_t kind;             /* enum lh_stack_kind: part of the stack's identity */
    _Atomic uint32_t complete; /* its fields and frames are written */
};
_Static_assert(sizeof(struct stack_entry) == 32, "stacks.h states an entry's size");

/* What a stack has allocated, in an array of its own: every sample adds here, and every lookup reads the identities
 * above. On the same cache line, one thread's sample made the other thread's next lookup of that stack a miss. */
struct stack_allocs {
    _Atomic uint64_t alloc_samples;
    _Atomic uint64_t alloc_objects; /* doubles, as bits: added to with compare-and-swap */
    _Atomic uint64_t alloc_bytes;
};

#define STRIPES 64
static pthread_mutex_t stripes[STRIPES];
static struct stack_entry *entries;
static struct stack_allocs *allocs;
/*
 * The index: slots holding stack id + 1 (0 = empty). It starts at 2^10 slots and doubles whenever it would be
 * more than half full, up to 2 × the capacity: lookups land on random slots, so its whole size is soon resident,
 * and a process with a few hundred stacks should not hold 256 KiB for them. Every size lives in one region,
 * one after the other; index_word holds the slots in use plus log2 of their number in the low 6 bits (they are
 * 64-byte aligned), so a lookup reads both with one load. Growing takes every stripe lock (in order), so no
 * stack is being added meanwhile; the old slots are given back to the kernel afterwards, and a lookup still
 * probing them reads zeros: "not found", so it goes on to add_stack, which looks again, in the new index.
 */
#define INDEX_FIRST_BITS 10
static _Atomic uint32_t *index_region;
static unsigned index_first_bits, index_max_bits;
static _Atomic uintptr_t index_word;
static uintptr_t *arena;
static uint64_t arena_capacity;
static _Atomic uint64_t arena_used;
static uint64_t capacity;
static _Atomic uint32_t ids_given;  /* ids handed out (complete or being written) */
static _Atomic uint32_t count;      /* ids 0 .. count-1 are all complete */

static uintptr_t self_text_start, self_text_end;

LH_HIDDEN void lh_stacks_locate_self(void)
{
    struct lh_text_range self = lh_text_range_of((uintptr_t)&lh_stacks_locate_self);
    self_text_start = self.start;
    self_text_end = self.end;
}

struct capture {
    uintptr_t *pcs;
    int depth;
    int max_depth;
    uintptr_t last_fp; /* the frame pointer of the last frame kept, for fpwalk.c */
};

#if defined(__x86_64__)
#define FRAME_POINTER_REGISTER 6 /* rbp, in DWARF's numbering */
#elif defined(__aarch64__)
#define FRAME_POINTER_REGISTER 29 /* x29 */
#endif

/* A frame's pc in the return-address convention (readers look up pc - 1); 0 at the end of the stack. A signal
 * frame's pc is the interrupted instruction itself, so it is stored + 1. */
static uintptr_t frame_pc(struct _Unwind_Context *context)
{
    int before_instruction = 0;
    uintptr_t pc = _Unwind_GetIPInfo(context, &before_instruction);
    return pc && before_instruction ? pc + 1 : pc;
}

static bool is_self(uintptr_t pc)
{
    return pc >= self_text_start && pc < self_text_end; /* malloc wrappers, and main's wrapper further out */
}

static _Unwind_Reason_Code on_frame(struct _Unwind_Context *context, void *argument)
{
    struct capture *c = argument;
    uintptr_t pc = frame_pc(context);
    if (pc == 0)
        return _URC_END_OF_STACK;
    if (is_self(pc))
        return _URC_NO_REASON;
    c->pcs[c->depth++] = pc;
#ifdef FRAME_POINTER_REGISTER
    c->last_fp = _Unwind_GetGR(context, FRAME_POINTER_REGISTER);
#endif
    return c->depth >= c->max_depth ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static int capture_with_libgcc(uintptr_t *pcs, int max_depth)
{
    struct capture c = {pcs, 0, max_depth, 0};
    _Unwind_Backtrace(on_frame, &c);
    /* Stopped inside an object's code without unwind information (V8's builtins): on by frame pointers. */
    if (c.depth > 0 && c.depth < max_depth && c.last_fp != 0 && lh_fpwalk_wanted(pcs[c.depth - 1]))
        c.depth = lh_fpwalk_on(c.last_fp, pcs, c.depth, max_depth);
    return c.depth;
}

/* LEAKHUNT_UNWINDER=both: libgcc walks again over what the tables found, comparing and overwriting frame by
 * frame (so no second buffer); libgcc's frames are the ones kept, and any difference is counted. */
struct comparison {
    uintptr_t *pcs;
    int fast_depth;
    int depth;
    int max_depth;
    bool differs;
};

static _Unwind_Reason_Code compare_frame(struct _Unwind_Context *context, void *argument)
{
    struct comparison *c = argument;
    uintptr_t pc = frame_pc(context);
    if (pc == 0)
        return _URC_END_OF_STACK;
    if (is_self(pc))
        return _URC_NO_REASON;
    if (c->depth >= c->fast_depth || c->pcs[c->depth] != pc)
        c->differs = true;
    c->pcs[c->depth++] = pc;
    return c->depth >= c->max_depth ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static int compare_with_libgcc(uintptr_t *pcs, int fast_depth, int max_depth)
{
    struct comparison c = {pcs, fast_depth, 0, max_depth, false};
    _Unwind_Backtrace(compare_frame, &c);
    if (c.differs || c.depth != fast_depth)
        LH_COUNT(unwind_mismatches, 1);
    return c.depth;
}

LH_HIDDEN int lh_stacks_capture(uintptr_t *pcs, int max_depth)
{
    if (lh_config.unwinder == LH_UNWINDER_LIBGCC)
        return capture_with_libgcc(pcs, max_depth);
    int depth = lh_unwind_capture(pcs, max_depth, self_text_start, self_text_end);
    if (depth == LH_UNWIND_USE_LIBGCC) {
        depth = capture_with_libgcc(pcs, max_depth);
        lh_unwind_want_pcs(pcs, depth);
        return depth;
    }
    LH_COUNT(fast_unwinds, 1);
    if (lh_config.unwinder == LH_UNWINDER_BOTH)
        return compare_with_libgcc(pcs, depth, max_depth);
    return depth;
}

LH_HIDDEN bool lh_stacks_init(uint64_t max_stacks, uint32_t max_depth)
{
    (void)max_depth;
    if (lh_config.unwinder != LH_UNWINDER_LIBGCC) {
        if (!lh_unwind_init() || !lh_unwind_tables_init())
            return false;
        /* The objects loaded now, so the first samples can ask for their pages, and the shim's own pages, which
         * every walk begins with. */
        lh_unwind_tables_refresh();
        lh_unwind_want_range(self_text_start, self_text_end);
    }
    index_max_bits = 6;
    while ((UINT64_C(1) << index_max_bits) < 2 * max_stacks)
        index_max_bits++;
    index_first_bits = index_max_bits < INDEX_FIRST_BITS ? index_max_bits : INDEX_FIRST_BITS;
    entries = lh_map_memory(max_stacks * sizeof *entries);
    allocs = lh_map_memory(max_stacks * sizeof *allocs);
    index_region = lh_map_memory(((UINT64_C(2) << index_max_bits) - (UINT64_C(1) << index_first_bits)) *
                                 sizeof *index_region);
    arena_capacity = max_stacks * 32;
    arena = lh_map_memory(arena_capacity * sizeof *arena);
    if (!entries || !allocs || !index_region || !arena)
        return false;
    atomic_store(&index_word, (uintptr_t)index_region | index_first_bits);
    capacity = max_stacks;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
    /* Id 0 is the overflow stack: no frames. */
    atomic_store(&entries[0].complete, 1);
    atomic_store(&ids_given, 1);
    atomic_store(&count, 1);
    return true;
}

static uint64_t mix(uint64_t h, uint64_t word)
{
    h ^= word;
    h *= 0x100000001B3ull;
    return h ^ (h >> 29);
}

/* Four independent lanes over the native frames, so the multiplies overlap instead of waiting on each other. Not
 * vectorised: without a 64-bit vector multiply GCC spells each one as shifts and adds, which made hashing 34 frames
 * a sixth of a sample's cost. */
static __attribute__((optimize("no-tree-vectorize"))) uint64_t hash_frames(const uintptr_t *pcs, int depth, const struct lh_java_frame *java, int java_depth,
                            enum lh_stack_kind kind)
{
    uint64_t lane[4] = {0xCBF29CE484222325ull ^ (uint64_t)depth ^ ((uint64_t)java_depth << 32) ^ ((uint64_t)kind << 48),
                        0x9E3779B97F4A7C15ull,
                        0xD6E8FEB86659FD93ull, 0xA0761D6478BD642Full};
    int i = 0;
    for (; i + 4 <= depth; i += 4)
        for (int k = 0; k < 4; k++)
            lane[k] = mix(lane[k], pcs[i + k]);
    for (; i < depth; i++)
        lane[i & 3] = mix(lane[i & 3], pcs[i]);
    uint64_t h = mix(mix(mix(lane[0], lane[1]), lane[2]), lane[3]);
    for (int k = 0; k < java_depth; k++)
        h = mix(mix(h, java[k].method_id), (uint64_t)(uint32_t)java[k].bci);
    return h ? h : 1;
}

static bool same_frames(const struct stack_entry *e, const uintptr_t *pcs, int depth, const struct lh_java_frame *java,
                        int java_depth, enum lh_stack_kind kind)
{
    if (e->depth != depth || e->java_depth != java_depth || e->kind != (uint32_t)kind)
        return false;
    const uintptr_t *stored = &arena[e->arena_offset];
    if (memcmp(stored, pcs, (size_t)depth * sizeof *pcs) != 0)
        return false;
    for (int i = 0; i < java_depth; i++)
        if (stored[depth + 2 * i] != java[i].method_id || stored[depth + 2 * i + 1] != (uint64_t)(uint32_t)java[i].bci)
            return false;
    return true;
}

static void add_double(_Atomic uint64_t *bits, double value)
{
    uint64_t seen = atomic_load_explicit(bits, memory_order_relaxed), next;
    do {
        double sum;
        memcpy(&sum, &seen, sizeof sum);
        sum += value;
        memcpy(&next, &sum, sizeof next);
    } while (!atomic_compare_exchange_weak_explicit(bits, &seen, next, memory_order_relaxed, memory_order_relaxed));
}

static double read_double(_Atomic uint64_t *bits)
{
    uint64_t raw = atomic_load_explicit(bits, memory_order_relaxed);
    double value;
    memcpy(&value, &raw, sizeof value);
    return value;
}

static void add_sample(struct stack_allocs *e, uint64_t size, double weight)
{
    atomic_fetch_add_explicit(&e->alloc_samples, 1, memory_order_relaxed);
    add_double(&e->alloc_objects, weight);
    add_double(&e->alloc_bytes, weight * (double)size);
}

static _Atomic uint32_t *index_slots(uintptr_t word)
{
    return (_Atomic uint32_t *)(word & ~(uintptr_t)63);
}

static uint64_t index_mask(uintptr_t word)
{
    return (UINT64_C(1) << (word & 63)) - 1;
}

/* The id of these frames if the index holds them (no lock); else UINT32_MAX, and *empty is the slot the probe
 * ended at, in the index `*word` (the one read). */
static uint32_t find(uint64_t hash, const uintptr_t *pcs, int depth, const struct lh_java_frame *java, int java_depth,
                     enum lh_stack_kind kind, uint64_t *empty, uintptr_t *word)
{
    *word = atomic_load_explicit(&index_word, memory_order_acquire);
    _Atomic uint32_t *slots = index_slots(*word);
    uint64_t mask = index_mask(*word);
    for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t slot = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (slot == 0) {
            *empty = i;
            return UINT32_MAX;
        }
        const struct stack_entry *e = &entries[slot - 1];
        if (e->hash == hash && same_frames(e, pcs, depth, java, java_depth, kind))
            return slot - 1;
    }
}

/* Doubles the index (as often as needed to be at most half full with `ids` stacks), under every stripe lock. */
static void grow_index(uint32_t ids)
{
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_lock(&stripes[i]);
    uintptr_t old = atomic_load(&index_word);
    unsigned bits = (unsigned)(old & 63);
    while (bits < index_max_bits && (uint64_t)ids * 2 > (UINT64_C(1) << bits))
        bits++;
    if (bits != (old & 63)) { /* not grown meanwhile by another thread */
        _Atomic uint32_t *slots = index_region + ((UINT64_C(1) << bits) - (UINT64_C(1) << index_first_bits));
        uint64_t mask = (UINT64_C(1) << bits) - 1;
        uint32_t given = atomic_load(&ids_given);
        for (uint32_t id = 1; id < given && id < capacity; id++) {
            uint64_t i = entries[id].hash & mask;
            while (atomic_load_explicit(&slots[i], memory_order_relaxed) != 0)
                i = (i + 1) & mask;
            atomic_store_explicit(&slots[i], id + 1, memory_order_relaxed);
        }
        /* Release: whoever reads the new word reads its slots. */
        atomic_store_explicit(&index_word, (uintptr_t)slots | bits, memory_order_release);
        madvise(index_slots(old), (index_mask(old) + 1) * sizeof *slots, MADV_DONTNEED);
    }
    for (int i = STRIPES - 1; i >= 0; i--)
        pthread_mutex_unlock(&stripes[i]);
}

/* Makes the ids of complete entries visible to snapshots, as far as they are consecutive. Every thread that
 * completes an entry calls it, so whichever finishes last moves the count past all of them. */
static void advance_count(void)
{
    uint32_t n = atomic_load(&count);
    /* ids_given may pass the capacity for a moment (a failed reservation gives its id back). */
    while (n < capacity && n < atomic_load(&ids_given) && atomic_load(&entries[n].complete)) {
        if (atomic_compare_exchange_weak(&count, &n, n + 1))
            n++;
    }
}

/* A stack seen for the first time: under its stripe's lock. Returns its id, or LH_OVERFLOW_STACK when full. */
static uint32_t add_stack(uint64_t hash, const uintptr_t *pcs, int depth, const struct lh_java_frame *java,
                          int java_depth, enum lh_stack_kind kind)
{
    uint64_t words = (uint64_t)depth + 2 * (uint64_t)java_depth;
    pthread_mutex_t *stripe = &stripes[hash % STRIPES];
    pthread_mutex_lock(stripe);
    uint64_t slot = 0;
    uintptr_t word;
    uint32_t id = find(hash, pcs, depth, java, java_depth, kind, &slot, &word); /* another thread may have just added it */
    if (id != UINT32_MAX) {
        pthread_mutex_unlock(stripe);
        return id;
    }
    /* The frames' room first: an id taken must always be completed, a word of arena taken may go unused. */
    uint64_t offset = atomic_fetch_add_explicit(&arena_used, words, memory_order_relaxed);
    id = offset + words <= arena_capacity ? atomic_fetch_add_explicit(&ids_given, 1, memory_order_relaxed) : UINT32_MAX;
    if (id == UINT32_MAX || id >= capacity) {
        if (id != UINT32_MAX)
            atomic_fetch_sub_explicit(&ids_given, 1, memory_order_relaxed);
        pthread_mutex_unlock(stripe);
        LH_COUNT(stack_drops, 1);
        return LH_OVERFLOW_STACK;
    }
    struct stack_entry *e = &entries[id];
    e->hash = hash;
    e->arena_offset = offset;
    e->depth = (uint16_t)depth;
    e->java_depth = (uint16_t)java_depth;
    e->kind = (uint32_t)kind;
    memcpy(&arena[offset], pcs, (size_t)depth * sizeof *pcs);
    for (int k = 0; k < java_depth; k++) {
        arena[offset + (uint64_t)depth + 2 * (uint64_t)k] = java[k].method_id;
        arena[offset + (uint64_t)depth + 2 * (uint64_t)k + 1] = (uint64_t)(uint32_t)java[k].bci;
    }
    atomic_store(&e->complete, 1);
    /* Release: whoever reads the slot reads the entry. A slot taken meanwhile by another stripe: probe on. The
     * index cannot be replaced while this stripe is held. */
    _Atomic uint32_t *slots = index_slots(word);
    for (uint32_t expected = 0;; slot = (slot + 1) & index_mask(word), expected = 0)
        if (atomic_compare_exchange_strong_explicit(&slots[slot], &expected, id + 1, memory_order_release,
                                                    memory_order_relaxed))
            break;
    pthread_mutex_unlock(stripe);
    advance_count();
    if ((uint64_t)(id + 1) * 2 > index_mask(word) + 1 && (word & 63) < index_max_bits)
        grow_index(id + 1);
    return id;
}

LH_HIDDEN uint32_t lh_stacks_intern(const uintptr_t *pcs, int depth, const struct lh_java_frame *java,
                                    int java_depth, enum lh_stack_kind kind, uint64_t size, double weight)
{
    uint64_t hash = hash_frames(pcs, depth, java, java_depth, kind);
    uint64_t empty;
    uintptr_t word;
    uint32_t id = find(hash, pcs, depth, java, java_depth, kind, &empty, &word);
    if (id == UINT32_MAX)
        id = add_stack(hash, pcs, depth, java, java_depth, kind);
    add_sample(&allocs[id], size, weight);
    return id;
}

LH_HIDDEN void lh_stacks_count_sample(uint32_t id, uint64_t size, double weight)
{
    if (id < lh_stacks_count())
        add_sample(&allocs[id], size, weight);
}

LH_HIDDEN void lh_stacks_reset_counts(void)
{
    uint32_t n = lh_stacks_count();
    for (uint32_t id = 0; id < n; id++) {
        atomic_store_explicit(&allocs[id].alloc_samples, 0, memory_order_relaxed);
        atomic_store_explicit(&allocs[id].alloc_objects, 0, memory_order_relaxed);
        atomic_store_explicit(&allocs[id].alloc_bytes, 0, memory_order_relaxed);
    }
}

LH_HIDDEN enum lh_stack_kind lh_stacks_kind(uint32_t id)
{
    return id < lh_stacks_count() ? (enum lh_stack_kind)entries[id].kind : LH_KIND_MALLOC;
}

LH_HIDDEN uint32_t lh_stacks_count(void)
{
    return atomic_load_explicit(&count, memory_order_acquire);
}

LH_HIDDEN uint64_t lh_stacks_capacity(void)
{
    return capacity;
}

LH_HIDDEN int lh_stacks_get(uint32_t id, uintptr_t *pcs, struct lh_java_frame *java, int *java_depth,
                            struct lh_stack_stats *stats)
{
    /* id < lh_stacks_count(): its entry is complete and its frames never change. */
    struct stack_entry *e = &entries[id];
    const uintptr_t *stored = &arena[e->arena_offset];
    if (pcs)
        memcpy(pcs, stored, (size_t)e->depth * sizeof *pcs);
    if (java) {
        for (int k = 0; k < e->java_depth; k++)
            java[k] = (struct lh_java_frame){stored[e->depth + 2 * k], (int32_t)(uint32_t)stored[e->depth + 2 * k + 1], 0};
    }
    if (java_depth)
        *java_depth = e->java_depth;
    if (stats)
        *stats = (struct lh_stack_stats){atomic_load_explicit(&allocs[id].alloc_samples, memory_order_relaxed),
                                         read_double(&allocs[id].alloc_objects), read_double(&allocs[id].alloc_bytes)};
    return e->depth;
}

/* Every stripe, in order, as grow_index takes them: no stack is half added in the child, and no index is half
 * grown. A known stack is interned without a lock, so fork only waits for threads adding a new one. */
LH_HIDDEN void lh_stacks_lock_for_fork(void)
{
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_lock(&stripes[i]);
}

LH_HIDDEN void lh_stacks_unlock_after_fork(void)
{
    for (int i = STRIPES - 1; i >= 0; i--)
        pthread_mutex_unlock(&stripes[i]);
}
