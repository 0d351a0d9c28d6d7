/*
 * A symbol's address read from the dynamic symbol tables of the loaded objects, without dlsym: the shim interposes
 * dlsym itself (interpose_dlsym.c), and finds the real one here.
 *
 * dl_iterate_phdr lists the loaded objects in link-map order (the program, the preloaded libraries, their
 * dependencies). The definition wanted is the one dlsym(RTLD_NEXT) would give the shim: the first object after the
 * shim's own that defines the name — its default version, where the object versions its symbols. Every table is
 * found through the object's PT_DYNAMIC, and every read is checked to lie inside one of its loaded, readable
 * segments first: a malformed or unusual object is skipped, never read out of bounds.
 *
 * Cost: one walk over the dynamic symbols of the objects up to the first that defines the name (a few thousand
 * entries for glibc), once per name, at start.
 */
#define _GNU_SOURCE
#include "dynsym.h"

#include <elf.h>
#include <link.h>
#include <string.h>

/* Whether [address, address + bytes) lies inside one loaded, readable segment of the object. */
static bool readable(const struct dl_phdr_info *info, uintptr_t address, uint64_t bytes)
{
    if (address + bytes < address)
        return false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (address >= start && address + bytes <= start + ph->p_memsz)
            return true;
    }
    return false;
}

static bool contains(const struct dl_phdr_info *info, uintptr_t address)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && address >= start && address < start + ph->p_memsz)
            return true;
    }
    return false;
}

/* The tables of one object, from its PT_DYNAMIC. */
struct tables {
    const ElfW(Sym) *symbols;
    const char *strings;
    uint64_t strings_bytes;
    const uint32_t *hash;     /* DT_HASH */
    const uint32_t *gnu_hash; /* DT_GNU_HASH */
    const ElfW(Half) *versions;
};

/* ld.so relocates most dynamic entries in place, but not every object's (the vDSO's): an address below the load
 * base is an offset still. */
static uintptr_t relocated(const struct dl_phdr_info *info, uintptr_t value)
{
    return value < info->dlpi_addr ? value + info->dlpi_addr : value;
}

static bool read_tables(const struct dl_phdr_info *info, struct tables *t)
{
    memset(t, 0, sizeof *t);
    const ElfW(Phdr) *dynamic = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dynamic = &info->dlpi_phdr[i];
    if (!dynamic)
        return false;
    uintptr_t at = info->dlpi_addr + dynamic->p_vaddr;
    uint64_t entries = dynamic->p_memsz / sizeof(ElfW(Dyn));
    if (!readable(info, at, entries * sizeof(ElfW(Dyn))))
        return false;
    uint64_t symbol_bytes = 0;
    for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)at; entries-- > 0 && d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: t->symbols = (const ElfW(Sym) *)relocated(info, d->d_un.d_ptr); break;
        case DT_STRTAB: t->strings = (const char *)relocated(info, d->d_un.d_ptr); break;
        case DT_STRSZ: t->strings_bytes = d->d_un.d_val; break;
        case DT_SYMENT: symbol_bytes = d->d_un.d_val; break;
        case DT_HASH: t->hash = (const uint32_t *)relocated(info, d->d_un.d_ptr); break;
        case DT_GNU_HASH: t->gnu_hash = (const uint32_t *)relocated(info, d->d_un.d_ptr); break;
        case DT_VERSYM: t->versions = (const ElfW(Half) *)relocated(info, d->d_un.d_ptr); break;
        default: break;
        }
    }
    return t->symbols && t->strings && symbol_bytes == sizeof(ElfW(Sym)) &&
           readable(info, (uintptr_t)t->strings, t->strings_bytes) && (t->hash || t->gnu_hash);
}

/* How many dynamic symbols the object has: DT_HASH says it; DT_GNU_HASH's last chain ends at the last one. */
static uint64_t symbol_count(const struct dl_phdr_info *info, const struct tables *t)
{
    if (t->hash)
        return readable(info, (uintptr_t)t->hash, 8) ? t->hash[1] : 0;
    const uint32_t *h = t->gnu_hash;
    if (!readable(info, (uintptr_t)h, 16))
        return 0;
    uint32_t buckets = h[0], first_symbol = h[1], bloom_words = h[2];
    const uint32_t *bucket = h + 4 + (uint64_t)bloom_words * (sizeof(ElfW(Addr)) / 4);
    if (!readable(info, (uintptr_t)bucket, (uint64_t)buckets * 4))
        return 0;
    uint32_t last = 0;
    for (uint32_t i = 0; i < buckets; i++)
        if (bucket[i] > last)
            last = bucket[i];
    if (last < first_symbol)
        return first_symbol;
    const uint32_t *chain = bucket + buckets;
    for (;; last++) {
        const uint32_t *link = chain + (last - first_symbol);
        if (!readable(info, (uintptr_t)link, 4))
            return 0;
        if (*link & 1)
            return (uint64_t)last + 1;
    }
}

/* The object's definition of `name`: its default version when it has several, else any. */
static void *definition(const struct dl_phdr_info *info, const char *name)
{
    struct tables t;
    if (!read_tables(info, &t))
        return NULL;
    uint64_t count = symbol_count(info, &t);
    if (count == 0 || !readable(info, (uintptr_t)t.symbols, count * sizeof(ElfW(Sym))) ||
        (t.versions && !readable(info, (uintptr_t)t.versions, count * sizeof(ElfW(Half)))))
        return NULL;
    size_t name_bytes = strlen(name) + 1;
    void *hidden_version = NULL;
    for (uint64_t i = 1; i < count; i++) {
        const ElfW(Sym) *s = &t.symbols[i];
        int type = ELF64_ST_TYPE(s->st_info);
        if (s->st_shndx == SHN_UNDEF || s->st_value == 0 || (type != STT_FUNC && type != STT_NOTYPE) ||
            s->st_name >= t.strings_bytes || t.strings_bytes - s->st_name < name_bytes ||
            memcmp(t.strings + s->st_name, name, name_bytes) != 0)
            continue;
        void *address = (void *)(info->dlpi_addr + s->st_value);
        if (!t.versions || !(t.versions[i] & 0x8000))
            return address;
        hidden_version = address; /* an old version kept for old binaries: only if there is nothing else */
    }
    return hidden_version;
}

struct search {
    const char *name;
    uintptr_t self;
    bool self_seen;
    void *found_after_self;
    void *found_before_self;
};

static int visit(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct search *s = data;
    if (contains(info, s->self)) {
        s->self_seen = true;
        return 0;
    }
    if (s->self_seen ? s->found_after_self != NULL : s->found_before_self != NULL)
        return 0;
    void *address = definition(info, s->name);
    if (s->self_seen)
        s->found_after_self = address;
    else
        s->found_before_self = address;
    return s->found_after_self != NULL;
}

LH_HIDDEN void *lh_dynsym_next(const char *name, const void *self)
{
    struct search s = {name, (uintptr_t)self, false, NULL, NULL};
    dl_iterate_phdr(visit, &s);
    return s.found_after_self ? s.found_after_self : s.found_before_self;
}
