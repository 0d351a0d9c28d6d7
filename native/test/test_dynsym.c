/* The real dlsym found without dlsym: the dynamic symbol tables read as dlsym(RTLD_NEXT) would resolve. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include "../dynsym.h"
#include "harness.h"

static void finds_what_dlsym_finds(void)
{
    /* In this test program nothing is interposed: the next definition after it is libc's. */
    const char *names[] = {"dlsym", "dlvsym", "malloc", "mmap", "munmap", "puts"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        void *expected = dlsym(RTLD_NEXT, names[i]);
        void *found = lh_dynsym_next(names[i], (const void *)&finds_what_dlsym_finds);
        CHECK(found == expected, "%s: %p, dlsym says %p", names[i], found, expected);
    }
}

static void a_missing_name_is_null(void)
{
    CHECK(lh_dynsym_next("leakhunt_no_such_symbol", (const void *)&a_missing_name_is_null) == NULL, "not found");
    CHECK(lh_dynsym_next("", (const void *)&a_missing_name_is_null) == NULL, "the empty name");
    /* An IFUNC's symbol is its resolver, which is not called: strlen is one in glibc. */
    CHECK(lh_dynsym_next("strlen", (const void *)&a_missing_name_is_null) == NULL, "an IFUNC is not taken");
}

int main(void)
{
    RUN(finds_what_dlsym_finds);
    RUN(a_missing_name_is_null);
    return HARNESS_SUMMARY();
}
