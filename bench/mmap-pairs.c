/*
 * mmap-pairs: what an interposer of mmap, munmap and dlsym adds per call.
 *
 *   -k pair      one step = mmap of -s bytes (anonymous, read-write, untouched) + munmap of it: the kernel's work
 *                is most of it, and the same with or without the shim
 *   -k refused   one step = an mmap glibc refuses before any system call (an offset that is not page-aligned):
 *                the wrapper's own unsampled path, without the kernel's noise
 *   -k munmap    one step = munmap of -s bytes at an address that is not page-aligned: the kernel refuses it at
 *                once (EINVAL), so the wrapper's check of the region filter is most of the difference
 *   -k dlsym     one step = dlsym(RTLD_DEFAULT, "puts"): a name the shim passes through
 *   -k dlsym-malloc  one step = dlsym(<libc.so.6>, "malloc"): a name the shim substitutes (one extra real lookup)
 *
 * usage: mmap-pairs [-k kind] [-n steps] [-s bytes] [-t threads]     (pair, 1000000, 65536, 1)
 * prints one line: mmap-pairs kind=K threads=T steps=N bytes=S ns_per_step=X wall_s=Y
 * (ns_per_step: each thread's time for its N steps divided by N, averaged over the threads)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum kind { PAIR, REFUSED, MUNMAP, DLSYM, DLSYM_MALLOC };

struct __attribute__((aligned(128))) thread_work {
    pthread_t thread;
    enum kind kind;
    long steps;
    size_t bytes;
    void *libc;
    char *unaligned; /* an address munmap refuses */
    double seconds;
    uintptr_t sink;
};

static pthread_barrier_t start_line;

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static __attribute__((noinline)) uintptr_t steps(struct thread_work *w)
{
    uintptr_t sink = 0;
    for (long i = 0; i < w->steps; i++) {
        switch (w->kind) {
        case PAIR: {
            void *p = mmap(NULL, w->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                abort();
            sink += (uintptr_t)p;
            munmap(p, w->bytes);
            break;
        }
        case REFUSED:
            sink += (uintptr_t)mmap(NULL, w->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1);
            break;
        case MUNMAP:
            sink += (uintptr_t)munmap(w->unaligned, w->bytes);
            break;
        case DLSYM:
            sink += (uintptr_t)dlsym(RTLD_DEFAULT, "puts");
            break;
        case DLSYM_MALLOC:
            sink += (uintptr_t)dlsym(w->libc, "malloc");
            break;
        }
        __asm__ volatile("" : "+r"(sink));
    }
    return sink;
}

static void *run_thread(void *argument)
{
    struct thread_work *w = argument;
    pthread_barrier_wait(&start_line);
    double start = seconds_now();
    w->sink = steps(w);
    w->seconds = seconds_now() - start;
    return NULL;
}

int main(int argc, char **argv)
{
    long n = 1000000;
    size_t bytes = 65536;
    int threads = 1, option;
    enum kind kind = PAIR;
    const char *kind_name = "pair";
    while ((option = getopt(argc, argv, "k:n:s:t:")) != -1) {
        switch (option) {
        case 'k':
            kind_name = optarg;
            kind = strcmp(optarg, "pair") == 0 ? PAIR : strcmp(optarg, "refused") == 0 ? REFUSED
                 : strcmp(optarg, "munmap") == 0 ? MUNMAP : strcmp(optarg, "dlsym") == 0 ? DLSYM : strcmp(optarg, "dlsym-malloc") == 0 ? DLSYM_MALLOC : (enum kind)-1;
            break;
        case 'n': n = atol(optarg); break;
        case 's': bytes = (size_t)atol(optarg); break;
        case 't': threads = atoi(optarg); break;
        default: kind = (enum kind)-1;
        }
    }
    if ((int)kind < 0 || n < 1 || bytes < 1 || threads < 1 || threads > 1024) {
        fprintf(stderr, "usage: %s [-k pair|refused|munmap|dlsym|dlsym-malloc] [-n steps] [-s bytes] [-t threads]\n", argv[0]);
        return 2;
    }
    void *libc = dlopen("libc.so.6", RTLD_NOW);
    static char somewhere[8192];
    struct thread_work *work = aligned_alloc(128, (size_t)threads * sizeof *work);
    if (!work || !libc)
        return 1;
    pthread_barrier_init(&start_line, NULL, (unsigned)threads);
    double wall_start = seconds_now();
    for (int i = 0; i < threads; i++) {
        work[i] = (struct thread_work){.kind = kind, .steps = n, .bytes = bytes, .libc = libc, .unaligned = somewhere + 1};
        if (pthread_create(&work[i].thread, NULL, run_thread, &work[i]) != 0)
            return 1;
    }
    double ns_sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(work[i].thread, NULL);
        ns_sum += work[i].seconds * 1e9 / (double)n;
    }
    printf("mmap-pairs kind=%s threads=%d steps=%ld bytes=%zu ns_per_step=%.2f wall_s=%.3f\n", kind_name, threads, n, bytes,
           ns_sum / threads, seconds_now() - wall_start);
    free(work);
    return 0;
}
