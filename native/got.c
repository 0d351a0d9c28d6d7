/*
 * GOT patching: how an attached shim (attach.c) puts its hooks between a running process's code and its allocator,
 * where LD_PRELOAD is too late.
 *
 * Every call a shared object makes to another object's function goes through a slot the dynamic linker filled in:
 * a PLT call jumps through its `.rela.plt` R_X86_64_JUMP_SLOT slot; code built with -fno-plt calls through its
 * `.rela.dyn` R_X86_64_GLOB_DAT slot; a function pointer in data (a table of {malloc, free}) is an R_X86_64_64
 * relocation. Rewriting those slots of every loaded object redirects its calls — no code is modified, and a thread
 * already inside the old function finishes there. A slot is rewritten only if it holds the function the hook
 * forwards to (or, for a PLT slot not yet bound, the object's own lazy-binding stub): an object bound to another
 * definition (its own allocator) keeps it, since its blocks must never reach the allocator we forward to.
 *
 * Safety: every table is found through the object's PT_DYNAMIC and every read is checked to lie inside one of its
 * loaded segments first; a slot must lie inside a segment too, 8-byte aligned. RELRO pages (read-only after
 * relocation) are made writable only for the one store and put back; the store is one aligned 8-byte write, which
 * a thread calling through the slot sees whole, old or new. Each object is pinned with dlopen(RTLD_NOLOAD) while it
 * is patched, and found afresh by its index each time, so an object unloaded meanwhile is never touched: the
 * loader's list is never held while we call the loader (dl_iterate_phdr's lock taken before dlopen's would deadlock
 * against a thread inside dlopen). Skipped: the shim itself (its own references are how it reaches the real
 * functions), the dynamic loader and the vDSO. Objects outside the default namespace (dlmopen) are not found by
 * dlopen and are skipped too.
 *
 * Cost: none on any call. A pass walks the relocations of every object (~10 µs per thousand); it runs at attach,
 * after each dlopen through the hook, and at each snapshot only when the loader's add/remove counters moved.
 */
#define _GNU_SOURCE
#include "got.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#define NAME_BYTES 4096

/* One loaded object as dl_iterate_phdr described it. */
struct object {
    uintptr_t base;
    const ElfW(Phdr) *phdr;
    int phnum;
    bool is_program;
    char name[NAME_BYTES];
};

static pthread_mutex_t patch_lock = PTHREAD_MUTEX_INITIALIZER;
static bool passed_once;
static unsigned long long seen_adds, seen_subs;
static const struct lh_got_hook *_Atomic last_hooks;
static _Atomic int last_hook_count;
/* The object being copied out of the loader's list (under patch_lock). */
static struct object current;

/* ---- reading an object, every read checked ---- */

static bool inside_segment(const struct object *o, uintptr_t address, uint64_t bytes, bool *writable)
{
    if (address + bytes < address)
        return false;
    for (int i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R))
            continue;
        uintptr_t start = o->base + ph->p_vaddr;
        if (address >= start && address + bytes <= start + ph->p_memsz) {
            if (writable)
                *writable = (ph->p_flags & PF_W) != 0;
            return true;
        }
    }
    return false;
}

static bool inside_code(const struct object *o, uintptr_t address)
{
    for (int i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        uintptr_t start = o->base + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && address >= start && address < start + ph->p_memsz)
            return true;
    }
    return false;
}

struct tables {
    const ElfW(Sym) *symbols;
    const char *strings;
    uint64_t strings_bytes;
    uintptr_t rela, rela_bytes;     /* .rela.dyn */
    uintptr_t jmprel, jmprel_bytes; /* .rela.plt */
    bool plt_is_rela;
    uintptr_t relro_start, relro_end;
};

/* The loader relocates most dynamic entries in place; an address below the base is an offset still. */
static uintptr_t relocated(const struct object *o, uintptr_t value)
{
    return value < o->base ? value + o->base : value;
}

static bool read_tables(const struct object *o, struct tables *t)
{
    memset(t, 0, sizeof *t);
    const ElfW(Phdr) *dynamic = NULL;
    for (int i = 0; i < o->phnum; i++) {
        if (o->phdr[i].p_type == PT_DYNAMIC)
            dynamic = &o->phdr[i];
        if (o->phdr[i].p_type == PT_GNU_RELRO) {
            t->relro_start = o->base + o->phdr[i].p_vaddr;
            t->relro_end = t->relro_start + o->phdr[i].p_memsz;
        }
    }
    if (!dynamic)
        return false;
    uintptr_t at = o->base + dynamic->p_vaddr;
    uint64_t entries = dynamic->p_memsz / sizeof(ElfW(Dyn));
    if (!inside_segment(o, at, entries * sizeof(ElfW(Dyn)), NULL))
        return false;
    uint64_t symbol_bytes = 0, rela_entry_bytes = sizeof(ElfW(Rela));
    for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)at; entries-- > 0 && d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: t->symbols = (const ElfW(Sym) *)relocated(o, d->d_un.d_ptr); break;
        case DT_STRTAB: t->strings = (const char *)relocated(o, d->d_un.d_ptr); break;
        case DT_STRSZ: t->strings_bytes = d->d_un.d_val; break;
        case DT_SYMENT: symbol_bytes = d->d_un.d_val; break;
        case DT_RELA: t->rela = relocated(o, d->d_un.d_ptr); break;
        case DT_RELASZ: t->rela_bytes = d->d_un.d_val; break;
        case DT_RELAENT: rela_entry_bytes = d->d_un.d_val; break;
        case DT_JMPREL: t->jmprel = relocated(o, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: t->jmprel_bytes = d->d_un.d_val; break;
        case DT_PLTREL: t->plt_is_rela = d->d_un.d_val == DT_RELA; break;
        default: break;
        }
    }
    if (!t->symbols || !t->strings || symbol_bytes != sizeof(ElfW(Sym)) || rela_entry_bytes != sizeof(ElfW(Rela)) ||
        !inside_segment(o, (uintptr_t)t->strings, t->strings_bytes, NULL))
        return false;
    if (t->rela && !inside_segment(o, t->rela, t->rela_bytes, NULL))
        t->rela = 0;
    if (t->jmprel && (!t->plt_is_rela || !inside_segment(o, t->jmprel, t->jmprel_bytes, NULL)))
        t->jmprel = 0;
    return true;
}

/* The hook for symbol `index` of the object, or NULL. */
static const struct lh_got_hook *hook_of(const struct object *o, const struct tables *t, uint64_t index,
                                         const struct lh_got_hook *hooks, int hook_count)
{
    const ElfW(Sym) *s = &t->symbols[index];
    if (index == 0 || !inside_segment(o, (uintptr_t)s, sizeof *s, NULL) || s->st_name >= t->strings_bytes)
        return NULL;
    const char *name = t->strings + s->st_name;
    size_t room = t->strings_bytes - s->st_name;
    for (int i = 0; i < hook_count; i++) {
        size_t length = strlen(hooks[i].name) + 1;
        if (length <= room && memcmp(name, hooks[i].name, length) == 0)
            return &hooks[i];
    }
    return NULL;
}

/* ---- writing a slot ---- */

static bool store(const struct tables *t, uintptr_t slot, bool segment_writable, void *value)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = slot & ~(page - 1);
    /* The loader makes only the whole pages of the RELRO range read-only; a last partial page stays writable. */
    uintptr_t protected_end = t->relro_end & ~(page - 1);
    if (!(slot >= t->relro_start && slot + 8 <= protected_end)) {
        if (!segment_writable)
            return false; /* text relocations: never made writable */
        __atomic_store_n((void **)slot, value, __ATOMIC_RELEASE);
        return true;
    }
    if (mprotect((void *)first, page, PROT_READ | PROT_WRITE) != 0)
        return false;
    __atomic_store_n((void **)slot, value, __ATOMIC_RELEASE);
    mprotect((void *)first, page, PROT_READ);
    return true;
}

static void patch_relocations(const struct object *o, const struct tables *t, uintptr_t table, uint64_t bytes,
                              const struct lh_got_hook *hooks, int hook_count, struct lh_got_result *result)
{
    for (const ElfW(Rela) *r = (const ElfW(Rela) *)table; (uintptr_t)(r + 1) <= table + bytes; r++) {
        uint32_t type = (uint32_t)ELF64_R_TYPE(r->r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT && type != R_X86_64_64)
            continue;
        const struct lh_got_hook *hook = hook_of(o, t, ELF64_R_SYM(r->r_info), hooks, hook_count);
        if (!hook)
            continue;
        uintptr_t slot = o->base + r->r_offset;
        bool writable = false;
        if ((slot & 7) != 0 || !inside_segment(o, slot, 8, &writable))
            continue;
        void *value = __atomic_load_n((void **)slot, __ATOMIC_RELAXED);
        if (value == hook->hook)
            continue;
        bool ours = value == hook->real && (type != R_X86_64_64 || r->r_addend == 0);
        bool unbound_plt = type == R_X86_64_JUMP_SLOT && inside_code(o, (uintptr_t)value);
        if (!ours && !unbound_plt) {
            result->slots_foreign++;
            continue;
        }
        if (store(t, slot, writable, hook->hook))
            result->slots_patched++;
    }
}

static void patch_object(const struct object *o, const struct lh_got_hook *hooks, int hook_count,
                         struct lh_got_result *result)
{
    struct tables t;
    if (!read_tables(o, &t))
        return;
    uint32_t before = result->slots_patched;
    if (t.jmprel)
        patch_relocations(o, &t, t.jmprel, t.jmprel_bytes, hooks, hook_count, result);
    if (t.rela)
        patch_relocations(o, &t, t.rela, t.rela_bytes, hooks, hook_count, result);
    if (result->slots_patched > before)
        result->objects_patched++;
}

/* ---- walking the loaded objects ---- */

struct nth_search {
    size_t wanted;
    size_t index;
    bool found;
    unsigned long long adds, subs;
};

/* Copies the wanted object's description into `current` (names are freed when an object unloads). */
static int copy_nth(struct dl_phdr_info *info, size_t size, void *data)
{
    struct nth_search *s = data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        s->adds = info->dlpi_adds;
        s->subs = info->dlpi_subs;
    }
    if (s->index++ != s->wanted)
        return 0;
    current.base = info->dlpi_addr;
    current.phdr = info->dlpi_phdr;
    current.phnum = info->dlpi_phnum;
    current.is_program = s->wanted == 0;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    size_t length = strnlen(name, NAME_BYTES);
    if (length == NAME_BYTES)
        length = 0; /* too long to pin by name: treated as unnamed, and skipped */
    memcpy(current.name, name, length);
    current.name[length] = '\0';
    s->found = true;
    return 1;
}

static bool contains(const struct object *o, uintptr_t address)
{
    for (int i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        uintptr_t start = o->base + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && address >= start && address < start + ph->p_memsz)
            return true;
    }
    return false;
}

/* Skipped: the shim (holding this very function), the dynamic loader and the vDSO. Caller pinned the object. */
static bool skipped(const struct object *o)
{
    uintptr_t loader = (uintptr_t)getauxval(AT_BASE), vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (contains(o, (uintptr_t)&lh_got_patch_loaded))
        return true;
    if (loader && o->base == loader)
        return true;
    return vdso && (uintptr_t)o->phdr - vdso < 65536;
}

/* Pins the object `current` describes (unless it is the program, which never unloads); NULL handle and false when
 * it is gone or is not the object the loader's list named (another namespace). */
static bool pin(void **handle)
{
    *handle = NULL;
    if (current.is_program)
        return true;
    if (current.name[0] == '\0')
        return false;
    void *h = dlopen(current.name, RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return false;
    struct link_map *map = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &map) != 0 || !map || map->l_addr != current.base) {
        dlclose(h);
        return false;
    }
    *handle = h;
    return true;
}

LH_HIDDEN bool lh_got_patch_loaded(const struct lh_got_hook *hooks, int hook_count, bool force, bool wait,
                                   struct lh_got_result *result)
{
    memset(result, 0, sizeof *result);
    if (wait)
        pthread_mutex_lock(&patch_lock);
    else if (pthread_mutex_trylock(&patch_lock) != 0)
        return false;
    atomic_store(&last_hooks, hooks);
    atomic_store(&last_hook_count, hook_count);
    struct nth_search probe = {.wanted = 0};
    dl_iterate_phdr(copy_nth, &probe);
    bool changed = !passed_once || probe.adds != seen_adds || probe.subs != seen_subs;
    if (changed || force) {
        for (size_t index = 0;; index++) {
            struct nth_search s = {.wanted = index};
            dl_iterate_phdr(copy_nth, &s);
            if (!s.found)
                break;
            void *handle;
            if (!pin(&handle))
                continue;
            if (!skipped(&current)) {
                result->objects_seen++;
                patch_object(&current, hooks, hook_count, result);
            }
            if (handle)
                dlclose(handle);
        }
        passed_once = true;
        seen_adds = probe.adds;
        seen_subs = probe.subs;
    }
    pthread_mutex_unlock(&patch_lock);
    return true;
}

LH_HIDDEN const struct lh_got_hook *lh_got_hooks(int *hook_count)
{
    *hook_count = atomic_load(&last_hook_count);
    return atomic_load(&last_hooks);
}
