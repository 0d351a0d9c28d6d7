/* GOT patching (got.c): a library's calls to malloc and friends, through its PLT (lazily bound), through -fno-plt
 * GLOB_DAT slots under full RELRO, and through a table of function pointers, are redirected to hooks. The libraries
 * are built by scripts/test-native.mjs, whose build directory is argv[1]. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../got.h"
#include "harness.h"

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static _Atomic int mallocs, frees, callocs, reallocs;

static void *hook_malloc(size_t n) { mallocs++; return real_malloc(n); }
static void hook_free(void *p) { frees++; real_free(p); }
static void *hook_calloc(size_t c, size_t n) { callocs++; return real_calloc(c, n); }
static void *hook_realloc(void *p, size_t n) { reallocs++; return real_realloc(p, n); }

static struct lh_got_hook hooks[4];
static const char *build_dir;

static void *load(const char *name, int (**work)(void), int (**through_table)(void), const void *(**table)(void))
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", build_dir, name);
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
    if (!h)
        return NULL;
    *work = (int (*)(void))dlsym(h, "got_target_work");
    *through_table = (int (*)(void))dlsym(h, "got_target_work_through_table");
    *table = (const void *(*)(void))dlsym(h, "got_target_table_address");
    return h;
}

/* The permissions /proc/self/maps shows for the page holding `address` ("r--p", "rw-p"...). */
static void permissions_of(const void *address, char out[5])
{
    strcpy(out, "????");
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 && (unsigned long)address >= start &&
            (unsigned long)address < end)
            memcpy(out, perms, 5);
    }
    if (maps)
        fclose(maps);
}

static void patches(const char *library, bool full_relro)
{
    int (*work)(void), (*through_table)(void);
    const void *(*table)(void);
    void *h = load(library, &work, &through_table, &table);
    if (!h)
        return;
    struct lh_got_result result;
    CHECK(lh_got_patch_loaded(hooks, 4, true, true, &result), "a pass");
    CHECK(result.slots_patched >= 4, "%s: %u slots patched", library, result.slots_patched);
    int m = mallocs, f = frees, c = callocs, r = reallocs;
    CHECK(work() == 1, "the library works through the hooks");
    CHECK(mallocs == m + 1 && frees == f + 2 && callocs == c + 1 && reallocs == r + 1,
          "%s: every call went through its hook: malloc %d calloc %d realloc %d free %d", library, mallocs - m,
          callocs - c, reallocs - r, frees - f);
    m = mallocs;
    CHECK(through_table() == 1 && mallocs == m + 1, "%s: the function-pointer table's malloc is the hook", library);
    char perms[5];
    permissions_of(table(), perms);
    if (full_relro)
        CHECK(strcmp(perms, "r--p") == 0, "%s: the RELRO page is read-only again (%s)", library, perms);
    /* A second pass finds every slot patched already. */
    CHECK(lh_got_patch_loaded(hooks, 4, true, true, &result) && result.slots_patched == 0, "%s: idempotent (%u)",
          library, result.slots_patched);
}

static void plt_lazy_binding(void) { patches("libgot_plt.so", false); }
static void no_plt_full_relro(void) { patches("libgot_noplt.so", true); }

static void unchanged_objects_are_not_walked_again(void)
{
    struct lh_got_result result;
    lh_got_patch_loaded(hooks, 4, false, true, &result);
    CHECK(lh_got_patch_loaded(hooks, 4, false, true, &result) && result.objects_seen == 0,
          "no object loaded or unloaded since: nothing walked (%u)", result.objects_seen);
}

static void another_definition_is_left_alone(void)
{
    /* A hook whose `real` is not what the slots hold: nothing is rewritten, each slot counted as foreign. */
    static struct lh_got_hook foreign[1];
    foreign[0] = (struct lh_got_hook){"puts", (void *)hook_free, (void *)hook_malloc};
    struct lh_got_result result;
    lh_got_patch_loaded(foreign, 1, true, true, &result);
    CHECK(result.slots_patched == 0, "%u slots of another definition patched", result.slots_patched);
    CHECK(puts("# puts still works") >= 0, "puts");
}

int main(int argc, char **argv)
{
    build_dir = argc > 1 ? argv[1] : ".";
    real_malloc = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    real_free = (void (*)(void *))dlsym(RTLD_DEFAULT, "free");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "realloc");
    hooks[0] = (struct lh_got_hook){"malloc", (void *)hook_malloc, (void *)real_malloc};
    hooks[1] = (struct lh_got_hook){"free", (void *)hook_free, (void *)real_free};
    hooks[2] = (struct lh_got_hook){"calloc", (void *)hook_calloc, (void *)real_calloc};
    hooks[3] = (struct lh_got_hook){"realloc", (void *)hook_realloc, (void *)real_realloc};
    RUN(plt_lazy_binding);
    RUN(no_plt_full_relro);
    RUN(unchanged_objects_are_not_walked_again);
    RUN(another_definition_is_left_alone);
    return HARNESS_SUMMARY();
}
