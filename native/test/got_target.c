/* A library for test_got.c, built twice by scripts/test-native.mjs: with a PLT and lazy binding (its malloc calls go
 * through .rela.plt JUMP_SLOT slots, unbound at first), and with -fno-plt and full RELRO (GLOB_DAT slots, read-only
 * after relocation). It also keeps malloc in a table of function pointers (an R_X86_64_64 relocation). */
#include <stdlib.h>
#include <string.h>

typedef void *(*allocate_function)(size_t);
void *(*const got_target_table[])(size_t) = {malloc};

__attribute__((noinline)) int got_target_work(void)
{
    char *p = malloc(100);
    if (!p)
        return 0;
    memset(p, 1, 100);
    char *volatile q = calloc(10, 10);
    p = realloc(p, 200);
    int result = q && p ? 1 + q[5] : 0; /* calloc's block is used: not optimised away */
    free(q);
    free(p);
    return result;
}

int got_target_work_through_table(void)
{
    void *p = got_target_table[0](64);
    free(p);
    return p != NULL;
}

const void *got_target_table_address(void)
{
    return got_target_table;
}
