/*
 * Stack capture and the bounded table of distinct stacks.
 *
 * Capture uses libgcc's DWARF unwinder. With glibc >= 2.35 it finds unwind tables through
 * _dl_find_object, which takes no lock and does not allocate, so it is usable inside malloc. It is only
 * ever called on sampled allocations.
 *
 * The table interns stacks under one mutex (sampled path only): an index of 2 × capacity u32 slots
 * (open addressing on the frames' hash), dense entries, and a frame arena filled front to back. Ids are
 * never reused or moved, so snapshots can refer to them for the life of the process.
 */
#define _GNU_SOURCE
#include "stacks.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unwind.h>

#include "unwind_walk.h"
#include "unwind_tables.h"

struct stack_entry {
    uint64_t hash;
    uint64_t arena_offset; /* native pcs, then two words (method id, bci) per Java frame */
    uint16_t depth;
    uint16_t java_depth;
    uint32_t reserved;
    struct lh_stack_stats stats;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stack_entry *entries;
static uint32_t *index_slots; /* stack id + 1; 0 = empty */
static uint64_t index_mask;
static uintptr_t *arena;
static uint64_t arena_capacity;
static uint64_t arena_used;
static uint64_t capacity;
static _Atomic uint32_t count;

static uintptr_t self_text_start, self_text_end;

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t probe = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (probe >= start && probe < start + ph->p_memsz) {
            self_text_start = start;
            self_text_end = start + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

LH_HIDDEN void lh_stacks_locate_self(void)
{
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&lh_stacks_locate_self);
}

struct capture {
    uintptr_t *pcs;
    int depth;
    int max_depth;
};

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
    return c->depth >= c->max_depth ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static int capture_with_libgcc(uintptr_t *pcs, int max_depth)
{
    struct capture c = {pcs, 0, max_depth};
    _Unwind_Backtrace(on_frame, &c);
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
        atomic_fetch_add_explicit(&lh_counters.unwind_mismatches, 1, memory_order_relaxed);
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
    atomic_fetch_add_explicit(&lh_counters.fast_unwinds, 1, memory_order_relaxed);
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
    uint64_t slots = 64;
    while (slots < 2 * max_stacks)
        slots <<= 1;
    entries = lh_map_memory(max_stacks * sizeof *entries);
    index_slots = lh_map_memory(slots * sizeof *index_slots);
    arena_capacity = max_stacks * 32;
    arena = lh_map_memory(arena_capacity * sizeof *arena);
    if (!entries || !index_slots || !arena)
        return false;
    index_mask = slots - 1;
    capacity = max_stacks;
    /* Id 0 is the overflow stack: no frames. */
    entries[0] = (struct stack_entry){0};
    atomic_store(&count, 1);
    return true;
}

static uint64_t mix(uint64_t h, uint64_t word)
{
    h ^= word;
    h *= 0x100000001B3ull;
    return h ^ (h >> 29);
}

static uint64_t hash_frames(const uintptr_t *pcs, int depth, const struct lh_java_frame *java, int java_depth)
{
    uint64_t h = 0xCBF29CE484222325ull ^ (uint64_t)depth ^ ((uint64_t)java_depth << 32);
    for (int i = 0; i < depth; i++)
        h = mix(h, pcs[i]);
    for (int i = 0; i < java_depth; i++)
        h = mix(mix(h, java[i].method_id), (uint64_t)(uint32_t)java[i].bci);
    return h ? h : 1;
}

static bool same_frames(const struct stack_entry *e, const uintptr_t *pcs, int depth, const struct lh_java_frame *java,
                        int java_depth)
{
    if (e->depth != depth || e->java_depth != java_depth)
        return false;
    const uintptr_t *stored = &arena[e->arena_offset];
    if (memcmp(stored, pcs, (size_t)depth * sizeof *pcs) != 0)
        return false;
    for (int i = 0; i < java_depth; i++)
        if (stored[depth + 2 * i] != java[i].method_id || stored[depth + 2 * i + 1] != (uint64_t)(uint32_t)java[i].bci)
            return false;
    return true;
}

static void add_sample(struct stack_entry *e, uint64_t size, double weight)
{
    e->stats.alloc_samples++;
    e->stats.alloc_objects += weight;
    e->stats.alloc_bytes += weight * (double)size;
}

LH_HIDDEN uint32_t lh_stacks_intern(const uintptr_t *pcs, int depth, const struct lh_java_frame *java,
                                    int java_depth, uint64_t size, double weight)
{
    uint64_t hash = hash_frames(pcs, depth, java, java_depth);
    uint64_t words = (uint64_t)depth + 2 * (uint64_t)java_depth;
    uint32_t id = LH_OVERFLOW_STACK;
    pthread_mutex_lock(&table_lock);
    uint64_t i = hash & index_mask;
    for (;; i = (i + 1) & index_mask) {
        uint32_t slot = index_slots[i];
        if (slot == 0)
            break;
        struct stack_entry *e = &entries[slot - 1];
        if (e->hash == hash && same_frames(e, pcs, depth, java, java_depth)) {
            id = slot - 1;
            goto found;
        }
    }
    uint32_t n = atomic_load_explicit(&count, memory_order_relaxed);
    if (n < capacity && arena_used + words <= arena_capacity) {
        id = n;
        entries[id] = (struct stack_entry){
            .hash = hash, .arena_offset = arena_used, .depth = (uint16_t)depth, .java_depth = (uint16_t)java_depth};
        memcpy(&arena[arena_used], pcs, (size_t)depth * sizeof *pcs);
        for (int k = 0; k < java_depth; k++) {
            arena[arena_used + (uint64_t)depth + 2 * (uint64_t)k] = java[k].method_id;
            arena[arena_used + (uint64_t)depth + 2 * (uint64_t)k + 1] = (uint64_t)(uint32_t)java[k].bci;
        }
        arena_used += words;
        index_slots[i] = id + 1;
        /* Release: a reader that sees the new count sees the entry's frames. */
        atomic_store_explicit(&count, n + 1, memory_order_release);
    } else {
        atomic_fetch_add_explicit(&lh_counters.stack_drops, 1, memory_order_relaxed);
    }
found:
    add_sample(&entries[id], size, weight);
    pthread_mutex_unlock(&table_lock);
    return id;
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
    pthread_mutex_lock(&table_lock);
    const struct stack_entry *e = &entries[id];
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
        *stats = e->stats;
    int depth = e->depth;
    pthread_mutex_unlock(&table_lock);
    return depth;
}
