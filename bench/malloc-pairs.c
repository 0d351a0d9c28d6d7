/*
 * malloc-pairs: what an allocation interposer adds to one free + malloc.
 *
 * Every thread owns a ring of W live blocks. One step replaces a random block: free it, malloc a new one of a
 * random size, write to it. So each step is exactly one malloc/free pair, the live set stays at W blocks per
 * thread, and nothing leaks. Sizes: 85% 16..512 B, 14% 513 B..4 KiB, 1% 4 KiB..64 KiB.
 *
 * -d D runs the loop at the bottom of D extra (non-inlined, non-tail) calls, so that a sampled allocation has a
 * deeper stack to unwind, as in a real program.
 *
 * -W MS first runs pairs, untimed, for MS milliseconds (from the same call depth): an interposer that prepares
 * something per call site in the background (leakhunt's unwind tables) is then measured warm.
 *
 * -a SHIM -r RAW_DIR: before the timed loop, load the shim as `leakhunt attach` does into a JVM — dlopen, then its
 * Agent_OnAttach, which patches this program's GOT — and stop that run at once (stop-request, as `leakhunt detach`):
 * the loop then measures the idle hooks an attached-then-detached process keeps.
 *
 * usage: malloc-pairs [-n pairs_per_thread] [-t threads] [-w working_set] [-d call_depth] [-W warmup_ms] [-a shim -r raw_dir]
 * prints one line: malloc-pairs threads=T pairs=N working_set=W depth=D ns_per_pair=X cpu_ns_per_pair=C wall_s=Y
 * (ns_per_pair: each thread's time for its N pairs divided by N, averaged over the threads; cpu_ns_per_pair the
 * same from each thread's CPU time, which time spent waiting for a core on a busy machine does not inflate)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One per thread, each on its own cache lines: the threads must share nothing but the allocator. */
struct __attribute__((aligned(128))) thread_work {
    pthread_t thread;
    long pairs;
    int working_set;
    int depth;
    double warmup_s; /* > 0: the churn below runs untimed until this much time has passed */
    uint64_t rng;
    double seconds;
    double cpu_seconds;
    uint64_t touched;
};

static pthread_barrier_t start_line;

/* wyrand: a 64-bit generator with one multiply; quality is more than enough for picking sizes. */
static inline uint64_t next_random(uint64_t *state)
{
    *state += 0xA0761D6478BD642Full;
    __uint128_t m = (__uint128_t)*state * (*state ^ 0xE7037ED1A0B428DBull);
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

static inline size_t block_size(uint64_t r)
{
    uint64_t bucket = r % 1000, v = r >> 16;
    if (bucket < 850)
        return 16 + v % 497;           /* 16 .. 512 */
    if (bucket < 990)
        return 513 + v % 3584;         /* 513 .. 4096 */
    return 4097 + v % 61440;           /* 4097 .. 65536 */
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double thread_cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static __attribute__((noinline)) uint64_t churn(struct thread_work *w, char **ring)
{
    uint64_t touched = 0, rng = w->rng;
    const long pairs = w->warmup_s > 0 ? LONG_MAX : w->pairs;
    const uint64_t working_set = (uint64_t)w->working_set;
    const double warmup_end = w->warmup_s > 0 ? seconds_now() + w->warmup_s : 0;
    for (long i = 0; i < pairs; i++) {
        if (warmup_end > 0 && (i & 1023) == 0 && seconds_now() >= warmup_end)
            break;
        uint64_t r = next_random(&rng);
        uint32_t slot = (uint32_t)(r % working_set);
        touched += (unsigned char)ring[slot][0];
        free(ring[slot]);
        char *block = malloc(block_size(next_random(&rng)));
        if (!block)
            abort();
        block[0] = (char)r; /* the block is used: the pair cannot be optimised away */
        ring[slot] = block;
    }
    w->rng = rng;
    return touched;
}

static __attribute__((noinline)) uint64_t descend(struct thread_work *w, char **ring, int levels)
{
    if (levels <= 0)
        return churn(w, ring);
    uint64_t result = descend(w, ring, levels - 1);
    __asm__ volatile("" : "+r"(result)); /* keeps this frame: no tail call, no loop */
    return result + 1;
}

static void *run_thread(void *argument)
{
    struct thread_work *w = argument;
    char **ring = malloc((size_t)w->working_set * sizeof *ring);
    if (!ring)
        abort();
    for (int i = 0; i < w->working_set; i++) {
        ring[i] = malloc(block_size(next_random(&w->rng)));
        if (!ring[i])
            abort();
        ring[i][0] = (char)i;
    }
    if (w->warmup_s > 0) {
        w->touched = descend(w, ring, w->depth);
        w->warmup_s = 0;
    }
    pthread_barrier_wait(&start_line);
    double start = seconds_now(), cpu_start = thread_cpu_seconds();
    w->touched = descend(w, ring, w->depth);
    w->seconds = seconds_now() - start;
    w->cpu_seconds = thread_cpu_seconds() - cpu_start;
    for (int i = 0; i < w->working_set; i++)
        free(ring[i]);
    free(ring);
    return NULL;
}

/* Loads the shim into this process as an attach does, then stops its run: the GOT keeps the idle hooks. */
static int attach_then_detach(const char *shim, const char *raw_dir)
{
    void *library = dlopen(shim, RTLD_NOW | RTLD_LOCAL);
    int (*on_attach)(void *, char *, void *) = library ? (int (*)(void *, char *, void *))dlsym(library, "Agent_OnAttach") : NULL;
    if (!on_attach) {
        fprintf(stderr, "malloc-pairs: cannot load %s: %s\n", shim, dlerror());
        return -1;
    }
    char options[4200];
    snprintf(options, sizeof options, "dir:%s,owner:%d,java:0,interval:86400000", raw_dir, (int)getpid());
    int result = on_attach(NULL, options, NULL);
    if (result != 0) {
        fprintf(stderr, "malloc-pairs: Agent_OnAttach returned %d\n", result);
        return -1;
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/%d/stop-request", raw_dir, (int)getpid());
    close(open(path, O_WRONLY | O_CREAT, 0600));
    snprintf(path, sizeof path, "%s/%d/stopped", raw_dir, (int)getpid());
    for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
        usleep(10000);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "malloc-pairs: the shim did not stop its run\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *attach_shim = NULL, *raw_dir = NULL;
    long pairs = 5000000;
    int threads = 1, working_set = 1024, depth = 0, warmup_ms = 0, option;
    while ((option = getopt(argc, argv, "n:t:w:d:W:a:r:")) != -1) {
        switch (option) {
        case 'n': pairs = atol(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'w': working_set = atoi(optarg); break;
        case 'd': depth = atoi(optarg); break;
        case 'W': warmup_ms = atoi(optarg); break;
        case 'a': attach_shim = optarg; break;
        case 'r': raw_dir = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-n pairs_per_thread] [-t threads] [-w working_set] [-d call_depth] [-W warmup_ms]\n", argv[0]);
            return 2;
        }
    }
    if (pairs < 1 || threads < 1 || threads > 1024 || working_set < 1 || depth < 0 || depth > 10000 || warmup_ms < 0) {
        fprintf(stderr, "malloc-pairs: -n, -t, -w must be positive (-t at most 1024), -d in 0..10000, -W at least 0\n");
        return 2;
    }
    if (attach_shim && (!raw_dir || attach_then_detach(attach_shim, raw_dir) != 0))
        return 1;
    struct thread_work *work = aligned_alloc(128, (size_t)threads * sizeof *work);
    if (!work)
        return 1;
    pthread_barrier_init(&start_line, NULL, (unsigned)threads);
    double wall_start = seconds_now();
    for (int i = 0; i < threads; i++) {
        work[i] = (struct thread_work){.pairs = pairs, .working_set = working_set, .depth = depth,
                                       .warmup_s = warmup_ms / 1000.0,
                                       .rng = 0x2545F4914F6CDD1Dull * (uint64_t)(i + 1)};
        if (pthread_create(&work[i].thread, NULL, run_thread, &work[i]) != 0) {
            fprintf(stderr, "malloc-pairs: pthread_create failed\n");
            return 1;
        }
    }
    double ns_sum = 0, cpu_ns_sum = 0;
    uint64_t touched = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(work[i].thread, NULL);
        ns_sum += work[i].seconds * 1e9 / (double)pairs;
        cpu_ns_sum += work[i].cpu_seconds * 1e9 / (double)pairs;
        touched += work[i].touched;
    }
    double wall = seconds_now() - wall_start;
    printf("malloc-pairs threads=%d pairs=%ld working_set=%d depth=%d ns_per_pair=%.2f cpu_ns_per_pair=%.2f wall_s=%.3f "
           "touched=%llu\n", threads, pairs, working_set, depth, ns_sum / threads, cpu_ns_sum / threads, wall,
           (unsigned long long)(touched & 0xff));
    free(work);
    return 0;
}
