/*
 * The fast unwinder against libgcc's _Unwind_Backtrace (the reference), frame for frame: call chains of every
 * depth through a shared object and glibc's qsort, built without frame pointers; truncated captures; a new
 * thread; a JIT-like stub without unwind information; signal handlers (on the thread's stack and on a
 * sigaltstack, which the tables leave to libgcc); a library opened, closed and opened again.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/limits.h> /* PATH_MAX (the shim's own generated limits.h shadows <limits.h> here) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <unwind.h>

#include "../shim.h"
#include "../state.h"
#include "../unwind_tables.h"
#include "../unwind_walk.h"
#include "harness.h"
#include "unwind_chain.h"

#define MAX_FRAMES 256
#define NO_FRAME_POINTER __attribute__((noinline, optimize("omit-frame-pointer")))

typedef int (*capture_fn)(uintptr_t *pcs, int max);

static uintptr_t anchor; /* the return address into run_capture, the second frame of both lists */

struct gcc_capture {
    uintptr_t *pcs;
    int n, max;
};

static _Unwind_Reason_Code gcc_frame(struct _Unwind_Context *context, void *argument)
{
    struct gcc_capture *c = argument;
    int before_instruction = 0;
    uintptr_t pc = _Unwind_GetIPInfo(context, &before_instruction);
    if (pc == 0)
        return _URC_END_OF_STACK;
    c->pcs[c->n++] = pc + (before_instruction ? 1 : 0);
    return c->n >= c->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static __attribute__((noinline)) int capture_libgcc(uintptr_t *pcs, int max)
{
    anchor = (uintptr_t)__builtin_return_address(0);
    struct gcc_capture c = {pcs, 0, max};
    _Unwind_Backtrace(gcc_frame, &c);
    return c.n;
}

static __attribute__((noinline)) int capture_tables(uintptr_t *pcs, int max)
{
    anchor = (uintptr_t)__builtin_return_address(0);
    int n = lh_unwind_capture(pcs, max, 0, 0);
    __asm__ volatile("" : "+r"(n)); /* not a tail call: this frame is on the stack, as capture_libgcc's is */
    return n;
}

/* The one call site of both methods, so both lists hold the same frames from here outward. */
static __attribute__((noinline)) int run_capture(capture_fn fn, uintptr_t *pcs, int max)
{
    int n = fn(pcs, max);
    __asm__ volatile("" : "+r"(n));
    return n;
}

struct comparison {
    int max;
    bool fell_back; /* the tables said "use libgcc" even after the builder's turns */
    bool same;
    int fast_n, gcc_n;
    int frames; /* libgcc's, from the anchor outward */
    uintptr_t fast[MAX_FRAMES], gcc[MAX_FRAMES];
};

static struct comparison result;

/* Captures with both here; gives the builder up to three turns to build the pages this stack needs. */
static __attribute__((noinline)) void compare_here(struct comparison *r)
{
    int n = LH_UNWIND_USE_LIBGCC;
    for (int attempt = 0; attempt < 4 && n == LH_UNWIND_USE_LIBGCC; attempt++) {
        if (attempt > 0)
            lh_unwind_tables_refresh();
        n = run_capture(capture_tables, r->fast, r->max);
    }
    r->fell_back = n == LH_UNWIND_USE_LIBGCC;
    r->fast_n = n;
    r->gcc_n = run_capture(capture_libgcc, r->gcc, r->max);
    r->frames = r->gcc_n;
    /* Both lists start with three frames of this test's own: in the capturing function, in run_capture (the
     * anchor) and in compare_here, which calls run_capture from two places; the frames after them, the call
     * chain's, must be the same. */
    int own = r->gcc_n < 3 ? r->gcc_n : 3;
    r->same = !r->fell_back && r->fast_n == r->gcc_n && (r->gcc_n < 2 || r->fast[1] == anchor) &&
              memcmp(&r->fast[own], &r->gcc[own], (size_t)(r->gcc_n - own) * sizeof(uintptr_t)) == 0;
}

/* ---- the chain's program half ---- */

static NO_FRAME_POINTER int program_step(struct chain *c)
{
    volatile char pad[24];
    pad[0] = (char)c->remaining;
    return chain_descend(c) + pad[0];
}

static struct chain *qsort_pending;
static int qsort_result;

static int compare_and_descend(const void *a, const void *b)
{
    struct chain *c = qsort_pending;
    if (c) {
        qsort_pending = NULL;
        qsort_result = chain_descend(c);
    }
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static NO_FRAME_POINTER int through_qsort(struct chain *c)
{
    int pair[2] = {2, 1};
    qsort_pending = c;
    qsort(pair, 2, sizeof pair[0], compare_and_descend);
    int r = qsort_result;
    __asm__ volatile("" : "+r"(r));
    return r + pair[0];
}

static NO_FRAME_POINTER int leaf_compare(struct chain *c)
{
    (void)c;
    compare_here(&result);
    return 0;
}

static int (*library_step)(struct chain *) = chain_library_step;

static int run_chain(int depth, int max, int (*leaf)(struct chain *))
{
    memset(&result, 0, sizeof result);
    result.max = max;
    struct chain c = {depth, program_step, library_step, through_qsort, leaf};
    return program_step(&c);
}

static void expect_same(const char *what, int depth)
{
    if (getenv("UNWIND_TEST_DUMP") && !result.same) {
        for (int i = 0; i < result.gcc_n || i < result.fast_n; i++) {
            Dl_info a = {0}, b = {0};
            if (i < result.fast_n) dladdr((void *)result.fast[i], &a);
            if (i < result.gcc_n) dladdr((void *)result.gcc[i], &b);
            fprintf(stderr, "%2d %16lx %-24s %16lx %s\n", i, i < result.fast_n ? (unsigned long)result.fast[i] : 0, a.dli_sname ? a.dli_sname : "?", i < result.gcc_n ? (unsigned long)result.gcc[i] : 0, b.dli_sname ? b.dli_sname : "?");
        }
    }
    CHECK(!result.fell_back, "%s, depth %d: the tables still defer to libgcc", what, depth);
    CHECK(result.same, "%s, depth %d: %d frames from the tables, %d from libgcc", what, depth, result.fast_n,
          result.gcc_n);
}

/* ---- the tests ---- */

static void same_frames_at_every_depth(void)
{
    for (int depth = 1; depth <= 90; depth++) {
        run_chain(depth, MAX_FRAMES, leaf_compare);
        expect_same("chain", depth);
        CHECK(result.frames >= depth, "depth %d: only %d frames from the anchor", depth, result.frames);
    }
}

static void same_frames_when_truncated(void)
{
    for (int max = 1; max <= 24; max++) {
        run_chain(30, max, leaf_compare);
        expect_same("truncated", max);
        CHECK(result.fast_n == max, "max %d: %d frames", max, result.fast_n);
    }
}

static void *thread_sweep(void *unused)
{
    (void)unused;
    for (int depth = 1; depth <= 40; depth += 3) {
        run_chain(depth, MAX_FRAMES, leaf_compare);
        expect_same("new thread", depth);
    }
    return NULL;
}

static void same_frames_on_other_threads(void)
{
    for (int i = 0; i < 4; i++) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setstacksize(&attributes, (size_t)(256 + 512 * i) * 1024);
        CHECK(pthread_create(&thread, &attributes, thread_sweep, NULL) == 0, "pthread_create");
        pthread_join(thread, NULL);
        pthread_attr_destroy(&attributes);
    }
}

/*
 * A JIT-like frame: a few instructions in anonymous executable memory, no unwind information, that load %rbp
 * with something that is not a frame pointer and call into the chain. Both unwinders must report the stub's
 * return address and stop there.
 *   push rbp; mov rbp, rdx; mov rax, rdi; mov rdi, rsi; call rax; pop rbp; ret
 */
typedef int (*stub_fn)(int (*fn)(void *), void *arg, uintptr_t rbp);

static int stub_target(void *unused)
{
    (void)unused;
    run_chain(5, MAX_FRAMES, leaf_compare);
    return 0;
}

static void stops_at_code_without_unwind_information(void)
{
    static const unsigned char code[] = {0x55, 0x48, 0x89, 0xd5, 0x48, 0x89, 0xf8, 0x48,
                                         0x89, 0xf7, 0xff, 0xd0, 0x5d, 0xc3};
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *stub = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(stub != MAP_FAILED, "mmap");
    memcpy(stub, code, sizeof code);
    CHECK(mprotect(stub, (size_t)page, PROT_READ | PROT_EXEC) == 0, "mprotect");
    uintptr_t garbage[2] = {0x1234, 0x5678};
    ((stub_fn)(void *)stub)(stub_target, NULL, (uintptr_t)garbage);
    expect_same("JIT-like stub", 5);
    uintptr_t last = result.gcc[result.gcc_n - 1];
    CHECK(last > (uintptr_t)stub && last < (uintptr_t)stub + sizeof code, "the last frame is the stub's");
    munmap(stub, (size_t)page);
}

static volatile sig_atomic_t handled;

static void on_signal(int signal)
{
    (void)signal;
    memset(&result, 0, sizeof result);
    result.max = MAX_FRAMES;
    compare_here(&result);
    handled = 1;
}

/* A signal frame (glibc's __restore_rt has an 'S' CIE) is libgcc's, on the thread's stack or on an altstack. */
static void signal_frames_go_to_libgcc(void)
{
    for (int on_alternate = 0; on_alternate < 2; on_alternate++) {
        static char alternate[64 * 1024];
        stack_t ss = {.ss_sp = alternate, .ss_size = sizeof alternate, .ss_flags = 0};
        if (on_alternate)
            CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
        struct sigaction action = {0}, previous;
        action.sa_handler = on_signal;
        action.sa_flags = on_alternate ? SA_ONSTACK : 0;
        sigaction(SIGUSR1, &action, &previous);
        handled = 0;
        raise(SIGUSR1);
        sigaction(SIGUSR1, &previous, NULL);
        CHECK(handled, "handler ran");
        CHECK(result.fell_back, "on_alternate=%d: the tables must leave a signal frame to libgcc", on_alternate);
        CHECK(result.gcc_n > 3, "libgcc unwinds through the signal frame");
        if (on_alternate) {
            ss.ss_flags = SS_DISABLE;
            sigaltstack(&ss, NULL);
        }
    }
}

/* A library opened late (a JNI library) is unwound through once the builder has seen it; after dlclose its
 * tables go, and when it is opened again (often at the same address) it gets tables of its own again. */
static void libraries_opened_and_closed(void)
{
    Dl_info info;
    CHECK(dladdr((void *)chain_library_step, &info) != 0, "dladdr");
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "/tmp/leakhunt-test-unwind-%d.so", (int)getpid());
    char command[2 * PATH_MAX + 16];
    snprintf(command, sizeof command, "cp '%s' '%s'", info.dli_fname, copy);
    CHECK(system(command) == 0, "copy the chain library");
    struct lh_unwind_table_stats before;
    lh_unwind_tables_stats(&before);
    for (int round = 0; round < 3; round++) {
        void *handle = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
        CHECK(handle != NULL, "dlopen: %s", dlerror());
        if (!handle)
            break;
        library_step = (int (*)(struct chain *))dlsym(handle, "chain_library_step");
        for (int depth = 2; depth <= 20; depth += 6) {
            run_chain(depth, MAX_FRAMES, leaf_compare);
            expect_same("opened library", depth);
        }
        struct lh_unwind_table_stats open;
        lh_unwind_tables_stats(&open);
        CHECK(open.objects == before.objects + 1, "round %d: %u objects registered while open, %u before", round,
              open.objects, before.objects);
        library_step = chain_library_step;
        CHECK(dlclose(handle) == 0, "dlclose");
        struct lh_unwind_table_stats closed;
        lh_unwind_tables_stats(&closed);
        CHECK(closed.objects == before.objects, "round %d: %u objects after dlclose, %u before", round,
              closed.objects, before.objects);
    }
    unlink(copy);
}

static _Atomic int builder_wakes;
static void count_wake(void) { atomic_fetch_add(&builder_wakes, 1); }

/* A walk that finds a page without a table wakes the builder (the writer) once, not once per request: the wake is a
 * system call made from inside malloc, so at most one per builder turn. */
static void the_first_request_wakes_the_builder_once(void)
{
    lh_unwind_tables_refresh(); /* takes whatever earlier walks asked for */
    atomic_store(&lh_unwind_wake_builder, count_wake);
    uint64_t generation = atomic_load(&lh_unwind_registry.generation);
    for (uint32_t page = 0; page < 5; page++)
        lh_unwind_request_page(generation, 0, page);
    CHECK(atomic_load(&builder_wakes) == 1, "%d wakes for five requests before the builder's turn", builder_wakes);
    lh_unwind_tables_refresh();
    CHECK(!atomic_load(&lh_unwind_requests_pending), "the builder's turn took the requests");
    lh_unwind_request_page(generation, 0, 5);
    CHECK(atomic_load(&builder_wakes) == 2, "%d wakes after a request that followed the builder's turn", builder_wakes);
    atomic_store(&lh_unwind_wake_builder, NULL);
    lh_unwind_tables_refresh();
}

int main(void)
{
    atomic_store(&lh_run_state, LH_ON); /* so the interposed dlclose tells the tables */
    CHECK(lh_unwind_init(), "init");
    CHECK(lh_unwind_tables_init(), "tables");
    lh_unwind_tables_refresh();
    RUN(same_frames_at_every_depth);
    RUN(same_frames_when_truncated);
    RUN(same_frames_on_other_threads);
    RUN(stops_at_code_without_unwind_information);
    RUN(signal_frames_go_to_libgcc);
    RUN(libraries_opened_and_closed);
    RUN(the_first_request_wakes_the_builder_once);
    struct lh_unwind_table_stats stats;
    lh_unwind_tables_stats(&stats);
    printf("# %llu pages built, %llu failed, %llu arena words, %u objects\n", (unsigned long long)stats.pages_built,
           (unsigned long long)stats.pages_failed, (unsigned long long)stats.arena_words_used, stats.objects);
    return HARNESS_SUMMARY();
}
