/*
 * unwind-cost: what one stack capture costs, and how many frames it finds, with each unwinder leakhunt could
 * use, from the bottom of a call chain built like real code: -O2, no frame pointers (in the "nofp" build), half
 * of the frames in a separate shared object, and every tenth level through glibc's qsort (glibc has no frame
 * pointers either).
 *
 * This one file builds two things (bench/run.mjs does it):
 *   cc -DUWC_CHAIN_LIB -shared -fPIC ... -o libuwc-chain-<variant>.so   the shared object's half of the chain
 *   cc ... -o unwind-cost-<variant> -L. -luwc-chain-<variant> -ldl      the program
 * with -fomit-frame-pointer (variant nofp) or -fno-omit-frame-pointer (variant fp) for both.
 *
 * Methods, each called from the same call site at the leaf:
 *   libgcc        _Unwind_Backtrace (the shim's fallback)
 *   tables        the shim's own unwinder (native/unwind_walk.c over native/unwind_tables.c), linked in from the
 *                 shim's sources (-DUWC_HAVE_TABLES); its pages are built before timing, so any capture that still
 *                 falls back to libgcc during the timed loop is counted (fallbacks=)
 *   glibc         backtrace()
 *   unw_backtrace libunwind's fast path (cached frame descriptions, unw_step when it cannot)
 *   unw_step      libunwind's unw_getcontext + unw_init_local + unw_step loop
 *   fp            frame-pointer walk, checked: a frame pointer must lie inside this thread's stack and grow
 * libunwind is dlopen'ed (RTLD_LOCAL): linking it would let its own _Unwind_Backtrace and backtrace() take the
 * place of libgcc's and glibc's in this process.
 *
 * usage: unwind-cost [-i iterations] [-w warmup] [-m method] [depth ...]   (default 10000, 1000, depths 10 30 60)
 *        unwind-cost --stub                                       the JIT-like frame test, below
 * prints lines:  unwind variant=V depth=D method=M median_ns=X frames=N same_as_libgcc=S fallbacks=F
 *                (frames are counted from the leaf's caller outward, so every method is counted alike)
 *
 * --stub: a frame without unwind information, like JIT-compiled Java code: anonymous executable memory holding
 * a few instructions that set %rbp to something that is not a frame pointer (HotSpot's compiled code uses %rbp
 * as an ordinary register) and call into the chain. For each method, in a forked child (so a crash is a
 * result, not the end of the benchmark), it prints:
 *   stub rbp=R method=M result=ok frames_to_stub=A beyond=B correct=C
 *   stub rbp=R method=M result=signal signal=S
 * where beyond = frames reported past the stub and correct = how many of those are the real callers.
 * R is "guard" (%rbp points into a PROT_NONE page, like a thread stack's guard zone), "fake" (%rbp points a
 * little above the stub's frame, at stack words that look like a frame: a saved %rbp and a return address
 * into libc) or "framed" (the stub keeps a real frame pointer, as HotSpot's code does with
 * -XX:+PreserveFramePointer).
 */
#define _GNU_SOURCE
#include <stdint.h>

struct uwc_chain {
    int remaining;
    int (*lib_step)(struct uwc_chain *);
    int (*exe_step)(struct uwc_chain *);
    int (*through_libc)(struct uwc_chain *);
    int (*leaf)(struct uwc_chain *);
};

/* One level: pick the next one; the asm keeps the call from being a tail call, so every level is a frame. */
static inline int uwc_descend(struct uwc_chain *c)
{
    int level = --c->remaining;
    int result;
    if (level <= 0)
        result = c->leaf(c);
    else if (level % 10 == 5)
        result = c->through_libc(c);
    else
        result = (level & 1 ? c->lib_step : c->exe_step)(c);
    __asm__ volatile("" : "+r"(result));
    return result + 1;
}

#ifdef UWC_CHAIN_LIB

__attribute__((noinline, visibility("default"))) int uwc_lib_step(struct uwc_chain *c)
{
    return uwc_descend(c);
}

#else /* the program */

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>
#include <execinfo.h>

#ifdef UWC_HAVE_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif

#ifdef UWC_HAVE_TABLES
#include "unwind_tables.h"
#include "unwind_walk.h"
#endif

#ifndef UWC_VARIANT
#define UWC_VARIANT "unknown"
#endif

int uwc_lib_step(struct uwc_chain *c);

#define MAX_FRAMES 256

typedef int (*capture_fn)(uintptr_t *pcs, int max);

static __thread uintptr_t stack_low, stack_high; /* this thread's stack, for the checked walk */
static void find_stack(void);
static uintptr_t anchor; /* the return address into run_method: where every method's count starts */

/* ---- the methods ---- */

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

static unsigned long tables_fallbacks; /* captures the tables left to libgcc */

#ifdef UWC_HAVE_TABLES
static __attribute__((noinline)) int capture_tables(uintptr_t *pcs, int max)
{
    anchor = (uintptr_t)__builtin_return_address(0);
    int n = lh_unwind_capture(pcs, max, 0, 0);
    if (n == LH_UNWIND_USE_LIBGCC) {
        /* Pages not built yet (the warm-up's first captures): libgcc's frames, as in the shim, and the pages are
         * built at once, where the shim's writer would build them within 100 ms. */
        tables_fallbacks++;
        struct gcc_capture c = {pcs, 0, max};
        _Unwind_Backtrace(gcc_frame, &c);
        lh_unwind_want_pcs(pcs, c.n);
        lh_unwind_tables_refresh();
        n = c.n;
    }
    __asm__ volatile("" : "+r"(n)); /* not a tail call: this frame stays, as capture_libgcc's does */
    return n;
}
#endif

static __attribute__((noinline)) int capture_glibc(uintptr_t *pcs, int max)
{
    anchor = (uintptr_t)__builtin_return_address(0);
    return backtrace((void **)pcs, max);
}

#ifdef UWC_HAVE_LIBUNWIND
#define UWC_NAME(x) UWC_NAME_(x)
#define UWC_NAME_(x) #x
static int (*p_unw_backtrace)(void **, int);
static int (*p_unw_getcontext)(unw_context_t *);
static int (*p_unw_init_local)(unw_cursor_t *, unw_context_t *);
static int (*p_unw_step)(unw_cursor_t *);
static int (*p_unw_get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);

static const char *load_libunwind(void)
{
    void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        lib = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return "dlopen libunwind.so.8 failed";
    p_unw_backtrace = (int (*)(void **, int))dlsym(lib, "unw_backtrace");
    p_unw_getcontext = (int (*)(unw_context_t *))dlsym(lib, UWC_NAME(unw_tdep_getcontext));
    p_unw_init_local = (int (*)(unw_cursor_t *, unw_context_t *))dlsym(lib, UWC_NAME(unw_init_local));
    p_unw_step = (int (*)(unw_cursor_t *))dlsym(lib, UWC_NAME(unw_step));
    p_unw_get_reg = (int (*)(unw_cursor_t *, unw_regnum_t, unw_word_t *))dlsym(lib, UWC_NAME(unw_get_reg));
    if (!p_unw_backtrace || !p_unw_getcontext || !p_unw_init_local || !p_unw_step || !p_unw_get_reg)
        return "libunwind symbols missing";
    return NULL;
}

static __attribute__((noinline)) int capture_unw_backtrace(uintptr_t *pcs, int max)
{
    anchor = (uintptr_t)__builtin_return_address(0);
    return p_unw_backtrace((void **)pcs, max);
}

static __attribute__((noinline)) int capture_unw_step(uintptr_t *pcs, int max)
{
    anchor = (uintptr_t)__builtin_return_address(0);
    unw_context_t context;
    unw_cursor_t cursor;
    int n = 0;
    if (p_unw_getcontext(&context) != 0 || p_unw_init_local(&cursor, &context) != 0)
        return 0;
    while (n < max && p_unw_step(&cursor) > 0) {
        unw_word_t ip;
        if (p_unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0)
            break;
        pcs[n++] = (uintptr_t)ip;
    }
    return n;
}
#endif

/* Checked: stops at a frame pointer outside this thread's stack, misaligned, or not moving up the stack. */
static __attribute__((noinline, optimize("no-omit-frame-pointer"))) int capture_fp(uintptr_t *pcs, int max)
{
    anchor = (uintptr_t)__builtin_return_address(0);
    const uintptr_t *fp = __builtin_frame_address(0);
    int n = 0;
    while (n < max) {
        uintptr_t at = (uintptr_t)fp;
        if (at < stack_low || at + 2 * sizeof(uintptr_t) > stack_high || (at & 7) != 0)
            break;
        uintptr_t ret = fp[1];
        const uintptr_t *next = (const uintptr_t *)fp[0];
        if (ret < 4096)
            break;
        pcs[n++] = ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

/* Unchecked, as a profiler that trusts %rbp would be: only for the --stub test, in a child. */
static __attribute__((noinline, optimize("no-omit-frame-pointer"))) int capture_fp_unchecked(uintptr_t *pcs, int max)
{
    anchor = (uintptr_t)__builtin_return_address(0);
    const uintptr_t *fp = __builtin_frame_address(0);
    int n = 0;
    while (fp && n < max) {
        uintptr_t ret = fp[1];
        if (ret == 0)
            break;
        pcs[n++] = ret;
        fp = (const uintptr_t *)fp[0];
    }
    return n;
}

struct method {
    const char *name;
    capture_fn fn;
};

static struct method methods[8];
static int method_count;

static const char *only_method; /* -m NAME: just this one (libgcc is still the first, as the reference) */

static void add_method(const char *name, capture_fn fn)
{
    if (only_method && method_count > 0 && strcmp(name, only_method) != 0)
        return;
    methods[method_count++] = (struct method){name, fn};
}

/* ---- timing ---- */

static inline int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t median(int64_t *values, int n)
{
    qsort(values, (size_t)n, sizeof *values, compare_i64);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static int iterations = 10000, warmup = 1000;
static int64_t *timings;
static int64_t timer_overhead;

/* The one call site of every method. Returns the frames found from the anchor (this function's frame) out. */
static __attribute__((noinline)) int run_method(capture_fn fn, uintptr_t *pcs)
{
    int n = fn(pcs, MAX_FRAMES);
    __asm__ volatile("" : "+r"(n));
    return n;
}

static int frames_from_anchor(const uintptr_t *pcs, int n)
{
    for (int i = 0; i < n; i++)
        if (pcs[i] == anchor)
            return n - i;
    return n; /* the anchor was not reported: count everything */
}

static int chain_depth;

/* Median ns of one capture, after the warm-up, the timer's own cost taken off. */
static int64_t time_method(capture_fn fn, uintptr_t *pcs, int count)
{
    for (int i = 0; i < warmup; i++)
        run_method(fn, pcs);
    for (int i = 0; i < count; i++) {
        int64_t start = now_ns();
        run_method(fn, pcs);
        timings[i] = now_ns() - start;
    }
    int64_t ns = median(timings, count) - timer_overhead;
    return ns < 0 ? 0 : ns;
}

static int measure_at_leaf(struct uwc_chain *c)
{
    (void)c;
    uintptr_t pcs[MAX_FRAMES], reference[MAX_FRAMES];
    int reference_n = 0;
    for (int m = 0; m < method_count; m++) {
        for (int i = 0; i < warmup; i++) /* first: the frames compared are the warm path's */
            run_method(methods[m].fn, pcs);
        unsigned long fallbacks = tables_fallbacks;
        int n = run_method(methods[m].fn, pcs);
        int frames = frames_from_anchor(pcs, n);
        const uintptr_t *mine = pcs + (n - frames);
        if (m == 0) { /* libgcc: the reference the others are compared with */
            memcpy(reference, mine, (size_t)frames * sizeof *mine);
            reference_n = frames;
        }
        int same = 0;
        while (same < frames && same < reference_n && mine[same] == reference[same])
            same++;
        int64_t ns = time_method(methods[m].fn, pcs, iterations);
        printf("unwind variant=%s depth=%d method=%s median_ns=%lld frames=%d same_as_libgcc=%d fallbacks=%lu\n",
               UWC_VARIANT, chain_depth, methods[m].name, (long long)ns, frames, same, tables_fallbacks - fallbacks);
        fflush(stdout);
    }
    return 0;
}

/*
 * The first capture on a thread that has never unwound: libunwind keeps a per-thread cache of frame
 * descriptions (unw_backtrace's fast path), so a new thread pays the slow path once per frame. Threads come and
 * go in real services (the JVM workload starts one every 32 operations), so this is measured too.
 */
#define COLD_THREADS 200

static capture_fn cold_method;
static int64_t cold_ns;

static int cold_leaf(struct uwc_chain *c)
{
    (void)c;
    uintptr_t pcs[MAX_FRAMES];
    int64_t start = now_ns();
    run_method(cold_method, pcs);
    cold_ns = now_ns() - start - timer_overhead;
    return 0;
}

static int run_chain(int depth, int (*leaf)(struct uwc_chain *));

static void *cold_thread(void *argument)
{
    find_stack();
    run_chain(*(int *)argument, cold_leaf);
    return NULL;
}

static void measure_cold(int depth)
{
    int64_t results[COLD_THREADS];
    for (int m = 0; m < method_count; m++) {
        cold_method = methods[m].fn;
        int done = 0;
        for (int i = 0; i < COLD_THREADS; i++) {
            pthread_t thread;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setstacksize(&attr, 1 << 20);
            int argument = depth;
            if (pthread_create(&thread, &attr, cold_thread, &argument) == 0) {
                pthread_join(thread, NULL);
                results[done++] = cold_ns < 0 ? 0 : cold_ns;
            }
            pthread_attr_destroy(&attr);
        }
        if (done > 0)
            printf("unwind-cold variant=%s depth=%d method=%s median_ns=%lld threads=%d\n", UWC_VARIANT, depth,
                   methods[m].name, (long long)median(results, done), done);
    }
}

/* ---- the program's half of the chain ---- */

static __attribute__((noinline)) int exe_step(struct uwc_chain *c)
{
    return uwc_descend(c);
}

static struct uwc_chain *qsort_pending;
static int qsort_result;

static int compare_and_descend(const void *a, const void *b)
{
    struct uwc_chain *c = qsort_pending;
    if (c) {
        qsort_pending = NULL;
        qsort_result = uwc_descend(c);
    }
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Continues the chain from inside glibc: qsort calls the comparator, which descends. */
static __attribute__((noinline)) int through_libc(struct uwc_chain *c)
{
    int pair[2] = {2, 1};
    qsort_pending = c;
    qsort(pair, 2, sizeof pair[0], compare_and_descend);
    int result = qsort_result;
    __asm__ volatile("" : "+r"(result));
    return result + pair[0];
}

static int run_chain(int depth, int (*leaf)(struct uwc_chain *))
{
    struct uwc_chain c = {depth, uwc_lib_step, exe_step, through_libc, leaf};
    chain_depth = depth;
    return exe_step(&c);
}

/* ---- the JIT-like stub ---- */

static uintptr_t stub_return; /* the stub stores its own return address here: the first real caller past it */
static uintptr_t stub_start, stub_end; /* the code of the stub in use */
static size_t stub_length;

/*
 *   mov  rax, [rsp]           ; the return address
 *   movabs [&stub_return], rax
 *   push rbp
 *   mov  rbp, rdx             ; third argument: what %rbp holds in this "JIT" frame
 *   mov  rax, rdi
 *   mov  rdi, rsi
 *   call rax                  ; fn(arg)
 *   pop  rbp
 *   ret
 * No .eh_frame, no frame pointer: what a frame of JIT-compiled code looks like to an unwinder.
 */
typedef int (*stub_fn)(int (*fn)(void *), void *arg, uintptr_t rbp);

static stub_fn make_stub(int framed)
{
    unsigned char code[64];
    size_t at = 0;
    const unsigned char load_return[] = {0x48, 0x8b, 0x04, 0x24};
    memcpy(code + at, load_return, sizeof load_return), at += sizeof load_return;
    code[at++] = 0x48, code[at++] = 0xa3;
    uintptr_t where = (uintptr_t)&stub_return;
    memcpy(code + at, &where, 8), at += 8;
    unsigned char rest[] = {0x55, 0x48, 0x89, 0xd5, 0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0xff, 0xd0, 0x5d, 0xc3};
    if (framed)
        rest[3] = 0xe5; /* mov rbp, rsp: a real frame pointer, as HotSpot keeps with -XX:+PreserveFramePointer */
    memcpy(code + at, rest, sizeof rest), at += sizeof rest;
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *mem = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    memcpy(mem, code, at);
    if (mprotect(mem, (size_t)page, PROT_READ | PROT_EXEC) != 0)
        return NULL;
    stub_length = at;
    return (stub_fn)(void *)mem;
}

struct stub_case {
    capture_fn fn;
    uintptr_t pcs[MAX_FRAMES];
    int n;
    int64_t ns;
};

#define STUB_ITERATIONS 1000

static int stub_leaf(struct uwc_chain *c);
static struct stub_case *current_case;

static int stub_leaf(struct uwc_chain *c)
{
    (void)c;
    current_case->n = run_method(current_case->fn, current_case->pcs);
    uintptr_t scratch[MAX_FRAMES];
    current_case->ns = time_method(current_case->fn, scratch, STUB_ITERATIONS);
    return 0;
}

static int stub_target(void *argument)
{
    (void)argument;
    return run_chain(4, stub_leaf); /* a few frames of ordinary code between the "JIT" frame and the capture */
}

/* In the child: calls into the stub with %rbp = rbp and prints what the method saw. */
static __attribute__((noinline)) void stub_case(const char *rbp_name, const char *method_name, capture_fn fn,
                                                 stub_fn stub, uintptr_t rbp_kind_guard)
{
    struct stub_case sc = {fn, {0}, 0, 0};
    current_case = &sc;
    /* The real callers, from libgcc here: truth[0] is inside capture_libgcc, truth[1] in this function,
     * truth[2] onwards this function's callers. */
    uintptr_t truth[MAX_FRAMES];
    int truth_n = capture_libgcc(truth, MAX_FRAMES);
    /* A fake frame a little above the stub's own frame, in this function's frame. */
    volatile uintptr_t fake[48];
    for (int i = 0; i < 48; i++)
        fake[i] = 0;
    fake[16] = (uintptr_t)&fake[24];        /* "saved rbp": the next fake frame, further up */
    fake[17] = (uintptr_t)&qsort + 23;      /* "return address": inside libc */
    fake[24] = 0;                           /* the chain ends */
    fake[25] = (uintptr_t)&qsort + 41;
    uintptr_t rbp = rbp_kind_guard ? rbp_kind_guard : (uintptr_t)&fake[16];
    stub_start = (uintptr_t)(void *)stub;
    stub_end = stub_start + stub_length;
    stub(stub_target, NULL, rbp);
    int to_stub = -1;
    for (int i = 0; i < sc.n; i++)
        if (sc.pcs[i] - 1 >= stub_start && sc.pcs[i] - 1 < stub_end) {
            to_stub = i;
            break;
        }
    int beyond = 0, correct = 0;
    if (to_stub >= 0) {
        beyond = sc.n - to_stub - 1;
        /* Past the stub the truth is its return address (into this function), then this function's callers. */
        for (int i = 0; i < beyond; i++) {
            uintptr_t want = i == 0 ? stub_return : (i + 1 < truth_n ? truth[i + 1] : 0);
            if (sc.pcs[to_stub + 1 + i] != want)
                break;
            correct++;
        }
    }
    int frames_to_stub = to_stub >= 0 ? to_stub + 1 - (sc.n - frames_from_anchor(sc.pcs, sc.n)) : sc.n;
    printf("stub rbp=%s method=%s result=ok median_ns=%lld frames_to_stub=%d beyond=%d correct=%d%s\n", rbp_name,
           method_name, (long long)sc.ns, frames_to_stub, beyond, correct, to_stub < 0 ? " stub_not_reached=1" : "");
    fflush(stdout);
}

static int run_stub_tests(void)
{
    stub_fn stub = make_stub(0), framed_stub = make_stub(1);
    long page = sysconf(_SC_PAGESIZE);
    void *guard = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!stub || !framed_stub || guard == MAP_FAILED) {
        fprintf(stderr, "unwind-cost: cannot map the stub\n");
        return 1;
    }
    const char *rbp_names[] = {"guard", "fake", "framed"};
    uintptr_t rbp_values[] = {(uintptr_t)guard + 64, 0, 0};
    stub_fn stubs[] = {stub, stub, framed_stub};
    add_method("fp_unchecked", capture_fp_unchecked);
    for (int r = 0; r < 3; r++) {
        for (int m = 0; m < method_count; m++) {
            fflush(stdout);
            pid_t child = fork();
            if (child < 0)
                return 1;
            if (child == 0) {
                stub_case(rbp_names[r], methods[m].name, methods[m].fn, stubs[r], rbp_values[r]);
                _exit(0);
            }
            int status = 0;
            waitpid(child, &status, 0);
            if (WIFSIGNALED(status))
                printf("stub rbp=%s method=%s result=signal signal=%s\n", rbp_names[r], methods[m].name,
                       sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
            else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                printf("stub rbp=%s method=%s result=exit status=%d\n", rbp_names[r], methods[m].name,
                       WEXITSTATUS(status));
            fflush(stdout);
        }
    }
    return 0;
}

/* ---- main ---- */

static void find_stack(void)
{
    pthread_attr_t attr;
    void *low;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) == 0 && pthread_attr_getstack(&attr, &low, &size) == 0) {
        stack_low = (uintptr_t)low;
        stack_high = stack_low + size;
        pthread_attr_destroy(&attr);
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    find_stack();

    int depths[16], depth_count = 0;
    int stub = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--stub") == 0)
            stub = 1;
        else if (strcmp(argv[i], "-i") == 0 && i + 1 < argc)
            iterations = atoi(argv[++i]);
        else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
            only_method = argv[++i];
        else if (depth_count < 16 && atoi(argv[i]) > 0)
            depths[depth_count++] = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: %s [-i iterations] [-w warmup] [-m method] [depth ...] | --stub\n", argv[0]);
            return 2;
        }
    }
    add_method("libgcc", capture_libgcc);
#ifdef UWC_HAVE_TABLES
    if (!lh_unwind_init() || !lh_unwind_tables_init()) {
        fprintf(stderr, "unwind-cost: cannot map the unwinder's tables\n");
        return 1;
    }
    lh_unwind_tables_refresh();
    add_method("tables", capture_tables);
#endif
    add_method("glibc", capture_glibc);
#ifdef UWC_HAVE_LIBUNWIND
    const char *why = load_libunwind();
    if (why) {
        printf("libunwind unavailable: %s\n", why);
    } else {
        add_method("unw_backtrace", capture_unw_backtrace);
        add_method("unw_step", capture_unw_step);
    }
#else
    printf("libunwind unavailable: built without libunwind.h\n");
#endif
    add_method("fp", capture_fp);
    if (iterations < 1 || warmup < 0) {
        fprintf(stderr, "unwind-cost: -i must be positive, -w not negative\n");
        return 2;
    }
    if (stub && iterations < STUB_ITERATIONS)
        iterations = STUB_ITERATIONS;
    timings = malloc((size_t)iterations * sizeof *timings);
    if (!timings)
        return 1;
    for (int i = 0; i < iterations; i++) {
        int64_t start = now_ns();
        timings[i] = now_ns() - start;
    }
    timer_overhead = median(timings, iterations);
    printf("timer_overhead_ns=%lld\n", (long long)timer_overhead);
    if (stub) {
        warmup = warmup < 100 ? warmup : 100;
        return run_stub_tests();
    }
    if (depth_count == 0) {
        depths[depth_count++] = 10;
        depths[depth_count++] = 30;
        depths[depth_count++] = 60;
    }
    for (int d = 0; d < depth_count; d++) {
        run_chain(depths[d], measure_at_leaf);
        measure_cold(depths[d]);
    }
    free(timings);
    return 0;
}

#endif
