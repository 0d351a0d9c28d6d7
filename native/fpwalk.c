/*
 * Walking on by frame pointers where the DWARF unwinder stops inside a loaded object: code a program carries
 * without unwind information, such as V8's embedded builtins in node (Builtins_CEntry…), through which every call
 * from JavaScript into C++ goes. Past them are the JIT-compiled JavaScript frames, which keep frame pointers (V8
 * always does), named later from the process's perf map (node --perf-basic-prof). Where the DWARF unwinder stops at
 * code outside every object — a JVM's code cache, whose compiled frames may use rbp as a general register — this
 * walk does not start: those frames are named from perf maps and the JVM agent's Java stacks.
 *
 * A frame is [saved frame pointer, return address] at the frame pointer. The walk follows the chain while each
 * frame lies above the one before (by less than 1 MiB, 8-byte aligned: a stack only grows one way), and stops at the
 * first return address back in code that has unwind information (C or C++ again: the frame pointer there may be
 * a general register, so what follows would be guesses), at depth, or at the first frame it cannot read.
 *
 * Never an unvalidated read: the stack is read with process_vm_readv() on this process, which the kernel checks
 * against the mappings and their protections and answers EFAULT for (a guard page, an unmapped frame pointer)
 * instead of a fault; page by page, so a partial read ends at a page boundary. Where the system call is refused
 * (a seccomp filter) or glibc has no _dl_find_object (before 2.35), there is no walk.
 *
 * Cost: only on a sampled allocation whose DWARF stack ended in such code; one system call (about 1 µs) per 512
 * bytes of stack walked — a few per stack, as JavaScript frames are small — and 512 bytes of the thread's stack.
 * The unsampled path never comes here.
 */
#define _GNU_SOURCE
#include "fpwalk.h"

#include <dlfcn.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE_BYTES 4096u
/* A frame larger than this is taken for a broken chain. */
#define MAX_FRAME_BYTES (1u << 20)

/* libgcc's own lookup of a pc's unwind information (exported by libgcc_s, not declared by unwind.h). */
struct lh_dwarf_eh_bases {
    void *tbase;
    void *dbase;
    void *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct lh_dwarf_eh_bases *bases);

static bool has_unwind_info(uintptr_t pc)
{
    struct lh_dwarf_eh_bases bases;
    return _Unwind_Find_FDE((void *)(pc - 1), &bases) != NULL;
}

LH_HIDDEN bool lh_fpwalk_wanted(uintptr_t last_pc)
{
#if defined(DLFO_STRUCT_HAS_EH_DBASE)
    if (last_pc < 2)
        return false;
    /* Lock-free (glibc >= 2.35): in a loaded object, and without unwind information there. */
    struct dl_find_object found;
    if (_dl_find_object((void *)(last_pc - 1), &found) != 0)
        return false;
    return !has_unwind_info(last_pc);
#else
    (void)last_pc;
    return false;
#endif
}

/* A few hundred bytes of the stack, read through the kernel: small, as it lives on the target's thread stack. */
#define WINDOW_BYTES 512u
struct window {
    uintptr_t start; /* the first byte held */
    uintptr_t end;   /* one past the last */
    unsigned char bytes[WINDOW_BYTES];
};

/* Reads up to WINDOW_BYTES from `address`, as two pieces where they cross a page boundary: a page that cannot be
 * read ends the window there (partial reads come whole pieces at a time). */
static bool load(struct window *w, uintptr_t address)
{
    uintptr_t boundary = (address & ~(uintptr_t)(PAGE_BYTES - 1)) + PAGE_BYTES;
    size_t first = boundary - address < WINDOW_BYTES ? (size_t)(boundary - address) : WINDOW_BYTES;
    struct iovec local = {w->bytes, WINDOW_BYTES};
    struct iovec remote[2] = {{(void *)address, first}, {(void *)boundary, WINDOW_BYTES - first}};
    ssize_t n = process_vm_readv(getpid(), &local, 1, remote, first < WINDOW_BYTES ? 2 : 1, 0);
    if (n <= 0)
        return false;
    w->start = address;
    w->end = address + (uintptr_t)n;
    return true;
}

/* The two words of the frame at `fp`, from the window (refilled when the frame lies outside it). */
static bool frame_at(struct window *w, uintptr_t fp, uintptr_t *saved_fp, uintptr_t *return_address)
{
    if (fp < w->start || fp + 2 * sizeof(uintptr_t) > w->end) {
        if (!load(w, fp) || fp + 2 * sizeof(uintptr_t) > w->end)
            return false;
    }
    memcpy(saved_fp, w->bytes + (fp - w->start), sizeof *saved_fp);
    memcpy(return_address, w->bytes + (fp - w->start) + sizeof(uintptr_t), sizeof *return_address);
    return true;
}

LH_HIDDEN int lh_fpwalk_on(uintptr_t fp, uintptr_t *pcs, int depth, int max_depth)
{
    struct window w;
    w.start = w.end = 0;
    while (depth < max_depth && fp != 0 && fp % sizeof(uintptr_t) == 0) {
        uintptr_t next_fp, return_address;
        if (!frame_at(&w, fp, &next_fp, &return_address) || return_address < 2)
            break;
        pcs[depth++] = return_address;
        if (has_unwind_info(return_address))
            break;
        if (next_fp <= fp || next_fp - fp > MAX_FRAME_BYTES)
            break;
        fp = next_fp;
    }
    return depth;
}
