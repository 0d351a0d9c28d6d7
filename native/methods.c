/*
 * The table of resolved Java methods: method id → class, name, source file, line number table. Filled by the
 * agent's resolver thread, read by the snapshot writer. Bounded: a fixed number of methods and a fixed arena
 * for their strings and line tables; what does not fit stays unresolved (shown as an unknown Java frame).
 */
#define _GNU_SOURCE
#include "methods.h"

#include <pthread.h>
#include <string.h>

struct stored_method {
    uint64_t method_id;
    uint64_t class_offset, name_offset, source_offset, lines_offset;
    uint32_t line_count;
    uint32_t reserved;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct stored_method *methods;
static uint32_t *index_slots; /* method number + 1; 0 = empty */
static uint64_t index_mask;
static uint32_t capacity, count;
static char *arena;
static uint64_t arena_capacity, arena_used;

LH_HIDDEN bool lh_methods_init(uint32_t max_methods, uint64_t arena_bytes)
{
    uint64_t slots = 64;
    while (slots < 2 * (uint64_t)max_methods)
        slots <<= 1;
    methods = lh_map_memory((size_t)max_methods * sizeof *methods);
    index_slots = lh_map_memory(slots * sizeof *index_slots);
    arena = lh_map_memory(arena_bytes);
    if (!methods || !index_slots || !arena)
        return false;
    index_mask = slots - 1;
    capacity = max_methods;
    arena_capacity = arena_bytes;
    return true;
}

static uint64_t slot_of(uint64_t method_id)
{
    return (method_id * 0x9E3779B97F4A7C15ull >> 20) & index_mask;
}

/* Caller holds the lock. */
static uint64_t find(uint64_t method_id)
{
    uint64_t i = slot_of(method_id);
    while (index_slots[i] != 0 && methods[index_slots[i] - 1].method_id != method_id)
        i = (i + 1) & index_mask;
    return i;
}

LH_HIDDEN bool lh_methods_known(uint64_t method_id)
{
    pthread_mutex_lock(&lock);
    bool known = methods && index_slots[find(method_id)] != 0;
    pthread_mutex_unlock(&lock);
    return known;
}

/* Caller holds the lock and has checked there is room. */
static uint64_t copy_in(const void *data, uint64_t bytes)
{
    uint64_t at = arena_used;
    memcpy(arena + at, data, bytes);
    arena_used += (bytes + 7) & ~(uint64_t)7;
    return at;
}

LH_HIDDEN bool lh_methods_add(const struct lh_method_info *m)
{
    size_t class_bytes = strlen(m->class_signature) + 1, name_bytes = strlen(m->name) + 1;
    size_t source_bytes = strlen(m->source_file) + 1, line_bytes = (size_t)m->line_count * 8;
    uint64_t need = class_bytes + name_bytes + source_bytes + line_bytes + 32;
    bool added = false;
    pthread_mutex_lock(&lock);
    uint64_t i = find(m->method_id);
    if (index_slots[i] == 0 && count < capacity && arena_used + need <= arena_capacity) {
        struct stored_method *s = &methods[count];
        s->method_id = m->method_id;
        s->class_offset = copy_in(m->class_signature, class_bytes);
        s->name_offset = copy_in(m->name, name_bytes);
        s->source_offset = copy_in(m->source_file, source_bytes);
        s->lines_offset = line_bytes ? copy_in(m->lines, line_bytes) : 0;
        s->line_count = m->line_count;
        index_slots[i] = ++count;
        added = true;
    }
    pthread_mutex_unlock(&lock);
    return added;
}

LH_HIDDEN void lh_methods_for_each(void (*visit)(const struct lh_method_info *, void *), void *context)
{
    pthread_mutex_lock(&lock);
    for (uint32_t k = 0; k < count; k++) {
        const struct stored_method *s = &methods[k];
        struct lh_method_info info = {
            s->method_id, arena + s->class_offset, arena + s->name_offset, arena + s->source_offset, s->line_count,
            (const uint32_t *)(arena + s->lines_offset)};
        visit(&info, context);
    }
    pthread_mutex_unlock(&lock);
}

LH_HIDDEN uint32_t lh_methods_count(void)
{
    pthread_mutex_lock(&lock);
    uint32_t n = count;
    pthread_mutex_unlock(&lock);
    return n;
}
