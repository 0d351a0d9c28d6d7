/*
 * dlsym and dlvsym, interposed so that a malloc-family or mmap-family function looked up by name — an FFI
 * (Python's ctypes, JNA), a plugin loader, a JNI library that calls dlsym(dlopen("libc.so.6"), "malloc") — is the
 * shim's, and its calls are sampled like any other.
 *
 * The rule: a lookup through any handle of a name the shim wraps, whose real result is the very function the shim
 * forwards that name to, returns the shim's entry point instead. Everything else is the real dlsym's answer,
 * untouched:
 *  - RTLD_NEXT lookups: "the next malloc" asked by another interposer must stay the next one after *it* (handing
 *    it ours would recurse for ever). glibc finds the object that asks from the return address, so the pass-through
 *    is a jump to the real function with the caller's return address still in place: an assembly stub (below)
 *    asks the C router what to do and then either returns the router's answer or jumps.
 *  - other names, and lookups whose result is not the function the shim forwards to (a plugin's own malloc, or
 *    glibc's when jemalloc is preloaded after the shim): the real answer.
 *
 * The real dlsym and dlvsym are found without calling dlsym (dynsym.c reads the dynamic symbol tables), so the
 * shim's own lookups — LH_NEXT, the resolution of the next allocator, at any point of its bootstrap — work before
 * anything is resolved: they come through here too and, being RTLD_NEXT or other names, are passed through from the
 * shim's own code, which is the caller glibc then sees.
 *
 * Cost, every dlsym call: a call to the router, a NULL and RTLD_NEXT test and a switch on the name's first letter
 * (a few string compares for names starting like ours); a wrapped name through a handle costs one extra real lookup
 * made by the router. The stub exists for x86-64 only; elsewhere dlsym is not interposed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include "dynsym.h"
#include "interpose.h"

#if defined(__x86_64__)

typedef void *(*dlsym_function)(void *, const char *);
typedef void *(*dlvsym_function)(void *, const char *, const char *);

/* Read by the stubs: the real functions (fallbacks answering NULL when there is none, which no glibc lacks). */
LH_HIDDEN dlsym_function lh_real_dlsym;
LH_HIDDEN dlvsym_function lh_real_dlvsym;

static void *no_dlsym(void *handle, const char *name)
{
    (void)handle, (void)name;
    return NULL;
}

static void *no_dlvsym(void *handle, const char *name, const char *version)
{
    (void)handle, (void)name, (void)version;
    return NULL;
}

/* Idempotent: two threads racing here find the same functions. */
static void resolve_real(void)
{
    if (__atomic_load_n(&lh_real_dlvsym, __ATOMIC_ACQUIRE))
        return;
    dlsym_function found = (dlsym_function)lh_dynsym_next("dlsym", (const void *)&resolve_real);
    dlvsym_function found_v = (dlvsym_function)lh_dynsym_next("dlvsym", (const void *)&resolve_real);
    __atomic_store_n(&lh_real_dlsym, found ? found : no_dlsym, __ATOMIC_RELEASE);
    __atomic_store_n(&lh_real_dlvsym, found_v ? found_v : no_dlvsym, __ATOMIC_RELEASE);
}

/* Names the shim exports and forwards: malloc family (interpose.c), mmap family (interpose_mmap.c). */
static bool wrapped(const char *name)
{
    static const char *const names[] = {
        "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign", "valloc",
        "pvalloc", "malloc_usable_size", "mmap", "mmap64", "munmap", "mremap",
    };
    switch (name[0]) {
    case 'm': case 'f': case 'c': case 'r': case 'p': case 'a': case 'v': break;
    default: return false;
    }
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static void *substitute(const char *name, void *found)
{
    void *ours = lh_interpose_substitute(name, found);
    return ours ? ours : lh_interpose_mmap_substitute(name, found);
}

/* What the stub returns: our entry point, or NULL for "jump to the real function with the caller's arguments". */
LH_HIDDEN void *lh_dlsym_route(void *handle, const char *name)
{
    resolve_real();
    if (handle == RTLD_NEXT || !name || !wrapped(name))
        return NULL;
    return substitute(name, lh_real_dlsym(handle, name));
}

LH_HIDDEN void *lh_dlvsym_route(void *handle, const char *name, const char *version)
{
    resolve_real();
    if (handle == RTLD_NEXT || !name || !version || !wrapped(name))
        return NULL;
    return substitute(name, lh_real_dlvsym(handle, name, version));
}

#ifdef __CET__
#define LH_ENDBR "endbr64\n"
#else
#define LH_ENDBR ""
#endif

/* dlsym(handle, name) / dlvsym(handle, name, version): the arguments saved around the router's call, then its
 * answer returned, or a jump (not a call) to the real function, so that the return address glibc reads is the
 * caller's. Unwind information for the three pushes, so stacks captured under a lookup unwind through. */
#define LOOKUP_STUB(name, route, real)                                                                       \
    __asm__(".text\n"                                                                                        \
            ".globl " #name "\n"                                                                             \
            ".type " #name ", @function\n"                                                                   \
            ".p2align 4\n" #name ":\n"                                                                       \
            ".globl lh_self_" #name "\n.hidden lh_self_" #name "\nlh_self_" #name ":\n"                     \
            ".cfi_startproc\n" LH_ENDBR                                                                      \
            "pushq %rdi\n.cfi_adjust_cfa_offset 8\n"                                                         \
            "pushq %rsi\n.cfi_adjust_cfa_offset 8\n"                                                         \
            "pushq %rdx\n.cfi_adjust_cfa_offset 8\n"                                                         \
            "call " #route "\n"                                                                              \
            "popq %rdx\n.cfi_adjust_cfa_offset -8\n"                                                         \
            "popq %rsi\n.cfi_adjust_cfa_offset -8\n"                                                         \
            "popq %rdi\n.cfi_adjust_cfa_offset -8\n"                                                         \
            "testq %rax, %rax\n"                                                                             \
            "jz 1f\n"                                                                                        \
            "ret\n"                                                                                          \
            "1:\n"                                                                                           \
            "jmp *" #real "(%rip)\n"                                                                         \
            ".cfi_endproc\n"                                                                                 \
            ".size " #name ", .-" #name "\n");

/* lh_self_dlsym and lh_self_dlvsym: the stubs' hidden names, for attach.c's hooks (`&dlsym` in the shim is whichever
 * dlsym comes first in the process). */
LOOKUP_STUB(dlsym, lh_dlsym_route, lh_real_dlsym)
LOOKUP_STUB(dlvsym, lh_dlvsym_route, lh_real_dlvsym)

#endif
