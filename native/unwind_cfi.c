/*
 * The call-frame information of one object, read into the compact rules of unwind_tables.h (what they can
 * express is said there). A page's rows come from the FDEs overlapping it, found by binary search in
 * .eh_frame_hdr's sorted table; each FDE's CFA program runs from the function's start (after its CIE's initial
 * instructions), and the rows that fall in the page are kept. Whatever this reader does not understand — an
 * unknown CFA opcode, a DWARF expression, a signal frame's CIE, a register saved in another register — becomes
 * FALLBACK rows, so the walk hands such stacks to libgcc rather than guess.
 */
#define _GNU_SOURCE
#include "unwind_cfi.h"

#include <string.h>

#define REMEMBER_DEPTH 8
#define CIE_CACHE 8

/* The end of the readable segment holding [at, at + bytes), or 0 if none holds it. */
static uintptr_t readable_until(const struct lh_cfi_object *o, uintptr_t at, uintptr_t bytes)
{
    for (int i = 0; i < o->segments; i++)
        if (at >= o->segment_start[i] && at <= o->segment_end[i] && bytes <= o->segment_end[i] - at)
            return o->segment_end[i];
    return 0;
}

struct reader {
    const uint8_t *p;
    const uint8_t *end;
    bool bad;
};

static bool take(struct reader *r, void *out, size_t bytes)
{
    if (r->bad || (size_t)(r->end - r->p) < bytes) {
        r->bad = true;
        memset(out, 0, bytes);
        return false;
    }
    memcpy(out, r->p, bytes);
    r->p += bytes;
    return true;
}

static uint8_t read_u8(struct reader *r)
{
    uint8_t v;
    take(r, &v, 1);
    return v;
}

static uint64_t read_uleb(struct reader *r)
{
    uint64_t value = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t byte = read_u8(r);
        if (r->bad || shift > 63) {
            r->bad = true;
            return 0;
        }
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return value;
    }
}

static int64_t read_sleb(struct reader *r)
{
    uint64_t value = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t byte = read_u8(r);
        if (r->bad || shift > 63) {
            r->bad = true;
            return 0;
        }
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            if (shift + 7 < 64 && (byte & 0x40))
                value |= ~UINT64_C(0) << (shift + 7);
            return (int64_t)value;
        }
    }
}

#define PE_OMIT 0xff
/* A DW_EH_PE-encoded value: the format in the low nibble, relative to the field (pcrel) or to `data_base`
 * (datarel) or absolute. Anything else (textrel, funcrel, aligned, indirect) is not used for what we read. */
static uint64_t read_encoded(struct reader *r, uint8_t encoding, uintptr_t data_base)
{
    uintptr_t field = (uintptr_t)r->p;
    uint64_t value = 0;
    switch (encoding & 0x0f) {
    case 0x00: case 0x04: case 0x0c: { uint64_t v; take(r, &v, 8); value = v; break; }
    case 0x01: value = read_uleb(r); break;
    case 0x02: { uint16_t v; take(r, &v, 2); value = v; break; }
    case 0x03: { uint32_t v; take(r, &v, 4); value = v; break; }
    case 0x09: value = (uint64_t)read_sleb(r); break;
    case 0x0a: { int16_t v; take(r, &v, 2); value = (uint64_t)(int64_t)v; break; }
    case 0x0b: { int32_t v; take(r, &v, 4); value = (uint64_t)(int64_t)v; break; }
    default: r->bad = true; return 0;
    }
    switch (encoding & 0xf0) {
    case 0x00: return value;
    case 0x10: return value + field;
    case 0x30: return value + data_base;
    default: r->bad = true; return 0;
    }
}

/* Opens .eh_frame_hdr: version 1 with the table x86-64 linkers write (datarel sdata4 pairs). */
static bool open_hdr(struct lh_cfi_object *o, uintptr_t hdr)
{
    uintptr_t end = readable_until(o, hdr, 4);
    if (!end)
        return false;
    struct reader r = {(const uint8_t *)hdr, (const uint8_t *)end, false};
    uint8_t version = read_u8(&r), frame_encoding = read_u8(&r), count_encoding = read_u8(&r),
            table_encoding = read_u8(&r);
    if (version != 1 || frame_encoding == PE_OMIT || count_encoding == PE_OMIT || table_encoding != 0x3b)
        return false;
    read_encoded(&r, frame_encoding, hdr);
    uint64_t count = read_encoded(&r, count_encoding, hdr);
    if (r.bad || count == 0 || count > (1u << 24) || !readable_until(o, (uintptr_t)r.p, count * 8))
        return false;
    o->hdr = hdr;
    o->table = r.p;
    o->fde_count = (uint32_t)count;
    return true;
}

static int32_t table_word(const struct lh_cfi_object *o, uint32_t index, int which)
{
    int32_t v;
    memcpy(&v, o->table + 8 * (size_t)index + 4 * which, 4);
    return v;
}

LH_HIDDEN uint64_t lh_cfi_fingerprint(const struct lh_cfi_object *o)
{
    if (!o->hdr)
        return 0;
    uint64_t first = (uint32_t)table_word(o, 0, 0), last = (uint32_t)table_word(o, o->fde_count - 1, 0);
    return ((uint64_t)o->fde_count * 0x9E3779B97F4A7C15ull) ^ (first << 32) ^ last;
}

LH_HIDDEN void lh_cfi_view_object(const struct dl_phdr_info *info, struct lh_cfi_object *o)
{
    memset(o, 0, sizeof *o);
    o->bias = info->dlpi_addr;
    uintptr_t hdr = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (ph->p_type == PT_GNU_EH_FRAME)
            hdr = start;
        if (ph->p_type != PT_LOAD)
            continue;
        if ((ph->p_flags & PF_R) && o->segments < LH_CFI_MAX_SEGMENTS) {
            o->segment_start[o->segments] = start;
            o->segment_end[o->segments++] = end;
        }
        if (ph->p_flags & PF_X) {
            if (!o->text_start || start < o->text_start)
                o->text_start = start;
            if (end > o->text_end)
                o->text_end = end;
        }
    }
    if (hdr && !open_hdr(o, hdr))
        o->hdr = 0;
}

/* ---- CIEs and FDEs ---- */

struct cie {
    uintptr_t address;
    uint64_t code_align;
    int64_t data_align;
    uint64_t return_register;
    uint8_t fde_encoding;
    bool augmented; /* 'z': FDEs carry an augmentation length */
    bool usable;    /* parsed, and not a signal frame */
    const uint8_t *instructions, *end;
};

/* A CIE or FDE record: its length, then (returned in *body) the rest. 64-bit DWARF lengths are accepted. */
static bool open_record(const struct lh_cfi_object *o, uintptr_t at, struct reader *body, bool *wide)
{
    uintptr_t limit = readable_until(o, at, 4);
    if (!limit)
        return false;
    struct reader r = {(const uint8_t *)at, (const uint8_t *)limit, false};
    uint32_t length32;
    take(&r, &length32, 4);
    uint64_t length = length32;
    *wide = length32 == 0xffffffffu;
    if (*wide)
        take(&r, &length, 8);
    if (r.bad || length == 0 || length > (uint64_t)(r.end - r.p))
        return false;
    *body = (struct reader){r.p, r.p + length, false};
    return true;
}

static void parse_cie(const struct lh_cfi_object *o, uintptr_t at, struct cie *c)
{
    memset(c, 0, sizeof *c);
    c->address = at;
    struct reader r;
    bool wide;
    if (!open_record(o, at, &r, &wide))
        return;
    uint64_t id = 0;
    take(&r, &id, wide ? 8 : 4);
    uint8_t version = read_u8(&r);
    if (r.bad || id != 0 || (version != 1 && version != 3 && version != 4))
        return;
    const char *augmentation = (const char *)r.p;
    size_t augmentation_length = strnlen(augmentation, (size_t)(r.end - r.p));
    if (augmentation_length == (size_t)(r.end - r.p))
        return;
    r.p += augmentation_length + 1;
    if (version == 4 && (read_u8(&r) != 8 || read_u8(&r) != 0))
        return; /* address size 8, no segments */
    c->code_align = read_uleb(&r);
    c->data_align = read_sleb(&r);
    c->return_register = version == 1 ? read_u8(&r) : read_uleb(&r);
    c->fde_encoding = 0; /* absolute, 8 bytes */
    if (augmentation[0] == 'z') {
        c->augmented = true;
        uint64_t data_length = read_uleb(&r);
        if (r.bad || data_length > (uint64_t)(r.end - r.p))
            return;
        const uint8_t *data_end = r.p + data_length;
        for (const char *a = augmentation + 1; *a; a++) {
            if (*a == 'R')
                c->fde_encoding = read_u8(&r);
            else if (*a == 'L')
                read_u8(&r);
            else if (*a == 'P') {
                uint8_t encoding = read_u8(&r);
                if ((encoding & 0x70) == 0x50)
                    return; /* aligned: not worth supporting */
                read_encoded(&r, encoding & 0x7f, 0);
            } else if (*a == 'S')
                return;     /* a signal frame: libgcc's business */
            else
                break;      /* unknown data follows; R, if any, came first in every producer we know */
        }
        r.p = data_end;
    } else if (augmentation[0] != '\0') {
        return;
    }
    if (r.bad || c->code_align == 0)
        return;
    c->instructions = r.p;
    c->end = r.end;
    c->usable = true;
}

/* ---- the CFA program ---- */

enum how { HOW_SAME = 0, HOW_OFFSET, HOW_UNDEFINED, HOW_OTHER };
struct register_rule {
    uint8_t how;
    int64_t offset;
};
struct frame_state {
    uint64_t cfa_register;
    int64_t cfa_offset;
    bool cfa_expression;
    struct register_rule rbp, rsp, ra;
};

#define DWARF_RBP 6
#define DWARF_RSP 7

static struct register_rule *rule_for(struct frame_state *s, const struct cie *c, uint64_t reg)
{
    if (reg == c->return_register)
        return &s->ra;
    if (reg == DWARF_RBP)
        return &s->rbp;
    if (reg == DWARF_RSP)
        return &s->rsp;
    return NULL; /* registers the walk does not track */
}

/* What DW_CFA_restore goes back to: the rule after the CIE's initial instructions. */
static struct register_rule initial_rule(const struct frame_state *initial, const struct cie *c, uint64_t reg)
{
    return reg == c->return_register ? initial->ra : reg == DWARF_RBP ? initial->rbp : initial->rsp;
}

static uint32_t rule_of(const struct frame_state *s, const struct cie *c)
{
    if (s->ra.how == HOW_UNDEFINED)
        return LH_RULE_END;
    if (c->return_register == DWARF_RBP || c->return_register == DWARF_RSP || s->cfa_expression ||
        (s->cfa_register != DWARF_RSP && s->cfa_register != DWARF_RBP) || s->ra.how != HOW_OFFSET ||
        s->ra.offset != -8 || s->rsp.how != HOW_SAME || s->cfa_offset < 8 || s->cfa_offset >= (1 << 20))
        return LH_RULE_FALLBACK;
    uint32_t rule = (s->cfa_register == DWARF_RSP ? LH_RULE_CFA_RSP : LH_RULE_CFA_RBP) | (uint32_t)s->cfa_offset << 12;
    if (s->rbp.how == HOW_OFFSET) {
        if (s->rbp.offset % 8 != 0 || s->rbp.offset / 8 < -128 || s->rbp.offset / 8 > 127)
            return LH_RULE_FALLBACK;
        rule |= 8u | (uint32_t)(uint8_t)(int8_t)(s->rbp.offset / 8) << 4;
    } else if (s->rbp.how != HOW_SAME) {
        return LH_RULE_FALLBACK;
    }
    return rule;
}


/* `rule` holds from `pc` on. Rows before the page collapse into row 0; equal neighbours merge. */
static void emit(struct lh_cfi_page *out, uintptr_t pc, uint32_t rule)
{
    if (pc >= out->end)
        return;
    uint32_t offset = pc <= out->start ? 0 : (uint32_t)(pc - out->start);
    uint32_t last = out->count - 1;
    if (offset < out->offset[last]) {
        out->broken = true;
    } else if (offset == out->offset[last]) {
        out->rule[last] = rule;
        if (last > 0 && out->rule[last - 1] == rule)
            out->count--;
    } else if (out->rule[last] != rule) {
        out->offset[out->count] = offset;
        out->rule[out->count++] = rule;
    }
}

/* Runs CFA instructions. With `out` NULL (a CIE's initial instructions) location advances are refused. */
static bool run_program(struct reader *r, const struct cie *c, struct frame_state *s, const struct frame_state *initial,
                        uintptr_t *location, uintptr_t fde_end, struct lh_cfi_page *out)
{
    struct frame_state remembered[REMEMBER_DEPTH];
    int depth = 0;
    while (!r->bad && r->p < r->end) {
        uint8_t op = read_u8(r);
        uint64_t reg = op & 0x3f, advance = 0;
        struct register_rule *rr;
        switch (op >> 6) {
        case 1: advance = reg; goto advance;
        case 2:
            if ((rr = rule_for(s, c, reg)) != NULL)
                *rr = (struct register_rule){HOW_OFFSET, (int64_t)read_uleb(r) * c->data_align};
            else
                read_uleb(r);
            continue;
        case 3:
            if ((rr = rule_for(s, c, reg)) != NULL)
                *rr = initial_rule(initial, c, reg);
            continue;
        }
        switch (op) {
        case 0x00: continue; /* nop */
        case 0x01: { /* set_loc */
            uintptr_t to = read_encoded(r, c->fde_encoding, 0);
            if (!out || to < *location)
                return false;
            emit(out, *location, rule_of(s, c));
            *location = to;
            continue;
        }
        case 0x02: advance = read_u8(r); goto advance;
        case 0x03: { uint16_t v; take(r, &v, 2); advance = v; goto advance; }
        case 0x04: { uint32_t v; take(r, &v, 4); advance = v; goto advance; }
        case 0x05: case 0x11: case 0x2f: { /* offset_extended, _sf, GNU_negative_offset_extended */
            reg = read_uleb(r);
            int64_t offset = op == 0x11 ? read_sleb(r) * c->data_align : (int64_t)read_uleb(r) * c->data_align;
            if ((rr = rule_for(s, c, reg)) != NULL)
                *rr = (struct register_rule){HOW_OFFSET, op == 0x2f ? -offset : offset};
            continue;
        }
        case 0x06: /* restore_extended */
            reg = read_uleb(r);
            if ((rr = rule_for(s, c, reg)) != NULL)
                *rr = initial_rule(initial, c, reg);
            continue;
        case 0x07: case 0x08: case 0x09: { /* undefined, same_value, register */
            reg = read_uleb(r);
            if (op == 0x09)
                read_uleb(r);
            if ((rr = rule_for(s, c, reg)) != NULL)
                *rr = (struct register_rule){op == 0x07 ? HOW_UNDEFINED : op == 0x08 ? HOW_SAME : HOW_OTHER, 0};
            continue;
        }
        case 0x0a: /* remember_state: every rule, the CFA's included */
            if (depth == REMEMBER_DEPTH)
                return false;
            remembered[depth++] = *s;
            continue;
        case 0x0b:
            if (depth == 0)
                return false;
            *s = remembered[--depth];
            continue;
        case 0x0c: s->cfa_register = read_uleb(r); s->cfa_offset = (int64_t)read_uleb(r); s->cfa_expression = false; continue;
        case 0x0d: s->cfa_register = read_uleb(r); s->cfa_expression = false; continue;
        case 0x0e: s->cfa_offset = (int64_t)read_uleb(r); continue;
        case 0x12: s->cfa_register = read_uleb(r); s->cfa_offset = read_sleb(r) * c->data_align; s->cfa_expression = false; continue;
        case 0x13: s->cfa_offset = read_sleb(r) * c->data_align; continue;
        case 0x0f: { /* def_cfa_expression */
            uint64_t length = read_uleb(r);
            if (length > (uint64_t)(r->end - r->p))
                return false;
            r->p += length;
            s->cfa_expression = true;
            continue;
        }
        case 0x10: case 0x16: { /* expression, val_expression */
            reg = read_uleb(r);
            uint64_t length = read_uleb(r);
            if (length > (uint64_t)(r->end - r->p))
                return false;
            r->p += length;
            if ((rr = rule_for(s, c, reg)) != NULL)
                *rr = (struct register_rule){HOW_OTHER, 0};
            continue;
        }
        case 0x14: case 0x15: /* val_offset, _sf */
            reg = read_uleb(r);
            if (op == 0x14)
                read_uleb(r);
            else
                read_sleb(r);
            if ((rr = rule_for(s, c, reg)) != NULL)
                *rr = (struct register_rule){HOW_OTHER, 0};
            continue;
        case 0x2e: read_uleb(r); continue; /* GNU_args_size: nothing to a backtrace */
        default: return false;             /* unknown, or another architecture's */
        }
    advance:
        if (!out)
            return false;
        emit(out, *location, rule_of(s, c));
        *location += advance * c->code_align;
        if (*location >= fde_end || *location >= out->end)
            return !r->bad; /* rows past here cannot be in this page */
    }
    return !r->bad;
}

/* CIEs parsed for the object being built (a library has a handful, shared by thousands of FDEs). */
static struct cie cie_cache[CIE_CACHE];

LH_HIDDEN void lh_cfi_forget_cies(void)
{
    memset(cie_cache, 0, sizeof cie_cache);
}

static const struct cie *cached_cie(const struct lh_cfi_object *o, uintptr_t at)
{
    struct cie *slot = &cie_cache[(at >> 3) % CIE_CACHE];
    if (slot->address != at)
        parse_cie(o, at, slot);
    return slot;
}

/* Adds the rows of the FDE at `fde` that fall in the page; false if it cannot be read or run. */
static bool add_fde(const struct lh_cfi_object *o, uintptr_t fde, struct lh_cfi_page *out)
{
    struct reader r;
    bool wide;
    if (!open_record(o, fde, &r, &wide))
        return false;
    uintptr_t pointer_field = (uintptr_t)r.p;
    uint64_t cie_pointer = 0;
    take(&r, &cie_pointer, wide ? 8 : 4);
    if (r.bad || cie_pointer == 0 || cie_pointer > pointer_field)
        return false;
    const struct cie *c = cached_cie(o, pointer_field - cie_pointer);
    uintptr_t pc_begin = read_encoded(&r, c->fde_encoding, 0);
    uintptr_t pc_range = read_encoded(&r, c->fde_encoding & 0x0f, 0);
    if (r.bad)
        return false;
    uintptr_t pc_end = pc_begin + pc_range;
    if (pc_end <= out->start || pc_begin >= out->end)
        return true; /* not in this page after all */
    if (!c->usable) {
        emit(out, pc_begin, LH_RULE_FALLBACK);
        emit(out, pc_end, LH_RULE_GAP);
        return true;
    }
    if (c->augmented) {
        uint64_t skip = read_uleb(&r);
        if (r.bad || skip > (uint64_t)(r.end - r.p))
            return false;
        r.p += skip;
    }
    /* The CIE's initial instructions give the state every FDE starts from, and DW_CFA_restore's target. */
    struct frame_state initial = {.cfa_register = DWARF_RSP, .cfa_offset = 8};
    struct reader cie_program = {c->instructions, c->end, false};
    uintptr_t location = pc_begin;
    if (!run_program(&cie_program, c, &initial, &initial, &location, pc_end, NULL))
        return false;
    struct frame_state state = initial;
    bool ok = run_program(&r, c, &state, &initial, &location, pc_end, out);
    if (!ok) {
        emit(out, pc_begin, LH_RULE_FALLBACK);
        emit(out, pc_end, LH_RULE_GAP);
        return true;
    }
    if (location < pc_end)
        emit(out, location, rule_of(&state, c));
    emit(out, pc_end, LH_RULE_GAP);
    return true;
}

/* The rows of the page starting at `page_start`, from every FDE that overlaps it. */
LH_HIDDEN bool lh_cfi_build_page(const struct lh_cfi_object *o, uintptr_t page_start, struct lh_cfi_page *out)
{
    out->start = page_start;
    out->end = page_start + (1u << LH_UNWIND_PAGE_SHIFT);
    out->count = 1;
    out->offset[0] = 0;
    out->rule[0] = LH_RULE_GAP;
    out->broken = false;
    /* The last FDE starting at or before the page, then every one that starts inside it. */
    uint32_t lo = 0, hi = o->fde_count;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (o->hdr + (intptr_t)table_word(o, mid, 0) <= page_start)
            lo = mid;
        else
            hi = mid;
    }
    for (uint32_t i = lo; i < o->fde_count; i++) {
        uintptr_t initial = o->hdr + (intptr_t)table_word(o, i, 0);
        if (initial >= out->end)
            break;
        if (!add_fde(o, o->hdr + (intptr_t)table_word(o, i, 1), out))
            return false;
        if (out->broken)
            return false;
    }
    return true;
}

