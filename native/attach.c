/*
 * Agent_OnAttach: the shim loaded into a JVM that is already running (`leakhunt attach <pid>`, through the JDK's
 * attach mechanism: `JVMTI.agent_load <this library> <options>`, what `jcmd <pid>` would send, over its attach socket).
 *
 * LD_PRELOAD is too late there: the JVM's objects were bound to glibc's malloc long ago. So the first attach
 *  - reads its settings from the agent's option string (below), as the constructor reads LEAKHUNT_*;
 *  - forwards to the functions the process already uses: the shim's own references to malloc, mmap, dlopen...,
 *    which the loader bound when it loaded the shim exactly as it bound everyone else's (an allocator preloaded into
 *    the JVM included) — not dlsym(RTLD_NEXT), which from a dlopen'd library skips such an allocator;
 *  - starts the tables and the writer (lifecycle.c), the JVM agent in the live VM (agent.c), and records "tracking
 *    since": lh_start_* become the attach time, and every snapshot says so (META flag bit 4);
 *  - rewrites the GOT slots of every loaded object to the shim's entry points (got.c): the malloc family, the mmap
 *    family, dlsym and dlvsym (the shim's, which hand out its allocator for lookups by name), and dlopen, whose hook
 *    patches each object as it loads (System.loadLibrary). The writer re-scans before each snapshot for objects
 *    loaded some other way.
 * Blocks allocated before the attach are unknown: their frees fail the address filter and pass through, and a
 * realloc of one is a new sample.
 *
 * The run stops (writer.c: sampling off, a final snapshot) when the CLI drops `stop-request` (detach, end of
 * --duration) or when the CLI that attached is gone. The hooks stay in the GOTs, passing calls through: the run
 * state is PAUSED, so the unsampled path is the usual countdown and, once per sample gap, a rearm (interpose.c).
 * Attaching again — the JVM is asked to load the same path, which the JVM finds loaded and calls Agent_OnAttach again — starts a
 * new run in a new directory: tables cleared, the GOTs re-scanned, never a second copy of the hooks.
 *
 * Options: comma-separated key:value (the JVM's diagnostic command parser would take a key=value for one of its options); `dir` (the run's raw directory, absolute) and `owner` (the CLI's pid) are
 * required; sample, interval (ms), capacity, stacks, snapshots, depth, seed, java (0/1) as the LEAKHUNT_* variables.
 * capacity, stacks and depth size the tables: the first attach's hold for the life of the process.
 *
 * Cost: nothing on the hot path beyond the hooks' own (interpose.c); a dlopen through the hook adds one pass over
 * the loaded objects' relocations (got.c), once per dlopen that loaded something.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "got.h"
#include "interpose.h"
#include "lifecycle.h"
#include "limits.h" /* generated from native/limits.json */
#include "liveness.h"
#include "mappings.h"
#include "sampler.h"
#include "snapshot.h"
#include "stacks.h"
#include "state.h"
#include "writer.h"

/* What Agent_OnAttach returns (JVMTI.agent_load prints it as "return code: N"); the CLI names each. */
enum attach_result {
    ATTACH_OK = 0,
    ATTACH_BAD_OPTIONS = 101,   /* the option string does not parse, or a value is out of its range */
    ATTACH_ALREADY = 102,       /* a run attached earlier is still recording: detach it first */
    ATTACH_PRELOADED = 103,     /* the shim is this process's allocator already (LD_PRELOAD, leakhunt run) */
    ATTACH_CANNOT_START = 104,  /* the run directory, the tables or the writer could not be set up */
    ATTACH_FORKED = 105,        /* a forked child of an attached process: its copy is off for good */
};

/* ---- the hooks ---- */

#define HOOKED(X)                                                                                            \
    X(malloc) X(free) X(calloc) X(realloc) X(reallocarray) X(posix_memalign) X(aligned_alloc) X(memalign)    \
    X(valloc) X(pvalloc) X(mmap) X(mmap64) X(munmap) X(mremap)
#define DECLARE_SELF(name) extern LH_HIDDEN __typeof__(name) self_##name;
HOOKED(DECLARE_SELF)
extern LH_HIDDEN char lh_self_dlsym[], lh_self_dlvsym[], lh_dlopen_hook[];

/* The shim's own references: bound by the loader like every other object's (see the top of this file). */
#define BOUND(name) (void *)&name,
static void *const bound[] = {HOOKED(BOUND)(void *)&dlopen, (void *)&dlsym, (void *)&dlvsym};
#define HOOK(name) {#name, (void *)&self_##name, NULL},
static struct lh_got_hook hooks[] = {HOOKED(HOOK){"dlopen", lh_dlopen_hook, NULL}, {"dlsym", lh_self_dlsym, NULL},
                                     {"dlvsym", lh_self_dlvsym, NULL}};
#define HOOK_COUNT (int)(sizeof hooks / sizeof *hooks)
_Static_assert(sizeof bound / sizeof *bound == sizeof hooks / sizeof *hooks, "one binding per hook");

/* Read by the dlopen stub. */
LH_HIDDEN void *(*lh_real_dlopen)(const char *, int);

/* ---- dlopen ----
 *
 * glibc's dlopen takes its caller from its return address: the caller's namespace and, for a name without a slash,
 * the caller's DT_RUNPATH/DT_RPATH decide what is loaded. So the stub asks lh_dlopen_should_wrap() first: a path
 * (System.loadLibrary's are absolute) or a caller with no search path of its own is wrapped — the real dlopen
 * called from here, the new objects patched — and anything else is a jump to the real dlopen with the caller's
 * return address in place, its objects patched at the next snapshot's re-scan. */
LH_HIDDEN int lh_dlopen_should_wrap(const char *file, int mode, void *caller)
{
    if (!file || (mode & RTLD_NOLOAD))
        return 0;
    if (strchr(file, '/'))
        return 1;
    Dl_info info;
    struct link_map *map = NULL;
    if (!dladdr1(caller, &info, (void **)&map, RTLD_DL_LINKMAP) || !map || !map->l_ld)
        return 0;
    for (const ElfW(Dyn) *d = map->l_ld; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_RPATH || d->d_tag == DT_RUNPATH)
            return 0;
    return 1;
}

static void patch_new_objects(bool wait)
{
    if (lh_tls.busy)
        return; /* a dlopen under the shim's own slow path: the next re-scan */
    int saved_errno = errno;
    lh_tls.quiet++;
    struct lh_got_result result;
    lh_got_patch_loaded(hooks, HOOK_COUNT, false, wait, &result);
    lh_tls.quiet--;
    errno = saved_errno;
}

LH_HIDDEN void *lh_dlopen_wrapped(const char *file, int mode)
{
    void *handle = lh_real_dlopen(file, mode);
    if (handle) {
        patch_new_objects(false); /* never waits: a pass under way may be waiting for the loader's lock we hold */
        dlerror();                /* the pass's own lookups leave no error behind a dlopen that succeeded */
    }
    return handle;
}

#ifdef __CET__
#define LH_ENDBR "endbr64\n"
#else
#define LH_ENDBR ""
#endif

__asm__(".text\n"
        ".globl lh_dlopen_hook\n"
        ".hidden lh_dlopen_hook\n"
        ".type lh_dlopen_hook, @function\n"
        ".p2align 4\n"
        "lh_dlopen_hook:\n"
        ".cfi_startproc\n" LH_ENDBR
        "pushq %rdi\n.cfi_adjust_cfa_offset 8\n"
        "pushq %rsi\n.cfi_adjust_cfa_offset 8\n"
        "movq 16(%rsp), %rdx\n" /* the caller's return address */
        "subq $8, %rsp\n.cfi_adjust_cfa_offset 8\n"
        "call lh_dlopen_should_wrap\n"
        "addq $8, %rsp\n.cfi_adjust_cfa_offset -8\n"
        "popq %rsi\n.cfi_adjust_cfa_offset -8\n"
        "popq %rdi\n.cfi_adjust_cfa_offset -8\n"
        "testl %eax, %eax\n"
        "jz 1f\n"
        "jmp lh_dlopen_wrapped\n"
        "1:\n"
        "jmp *lh_real_dlopen(%rip)\n"
        ".cfi_endproc\n"
        ".size lh_dlopen_hook, .-lh_dlopen_hook\n");

/* ---- the owner: the CLI that attached ---- */

static _Atomic int owner_pidfd = -1;
static _Atomic pid_t owner_pid;

static bool owner_gone(void)
{
    int fd = atomic_load(&owner_pidfd);
    if (fd >= 0) {
        struct pollfd p = {fd, POLLIN, 0};
        return poll(&p, 1, 0) == 1; /* a pidfd turns readable when its process has ended */
    }
    pid_t pid = atomic_load(&owner_pid);
    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

/* pid 0: not watched (the CLI is in another pid namespace, where its pid names another process or none). */
static void watch_owner(pid_t pid)
{
    int previous = atomic_exchange(&owner_pidfd, -1);
    if (previous >= 0)
        close(previous);
    atomic_store(&owner_pid, pid);
    if (pid == 0) {
        atomic_store(&lh_writer_owner_gone, NULL);
        return;
    }
#ifdef SYS_pidfd_open
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0)
        atomic_store(&owner_pidfd, (int)fd);
#endif
    atomic_store(&lh_writer_owner_gone, owner_gone);
}

static void rescan(void)
{
    patch_new_objects(true);
}

/* ---- options ---- */

struct attach_options {
    char dir[4096];
    uint64_t owner, sample, interval, capacity, stacks, snapshots, depth, seed, java;
    bool seed_given;
};

static bool parse_u64(const char *text, size_t length, uint64_t *out)
{
    uint64_t value = 0;
    if (length == 0)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}

static bool within(uint64_t value, uint64_t min, uint64_t max, bool zero_allowed)
{
    return (value >= min && value <= max) || (zero_allowed && value == 0);
}
#define WITHIN(id, value) within(value, LH_##id##_MIN, LH_##id##_MAX, LH_##id##_ZERO_ALLOWED)

static bool parse_options(const char *text, struct attach_options *o)
{
    *o = (struct attach_options){.sample = LH_SAMPLE_BYTES_DEFAULT, .interval = LH_INTERVAL_MS_DEFAULT,
                                 .capacity = LH_TABLE_CAPACITY_DEFAULT, .stacks = LH_MAX_STACKS_DEFAULT,
                                 .snapshots = LH_MAX_SNAPSHOTS_DEFAULT, .depth = LH_STACK_DEPTH_DEFAULT, .java = 1};
    bool owner_given = false;
    if (!text)
        return false;
    while (*text) {
        const char *end = strchr(text, ',');
        size_t length = end ? (size_t)(end - text) : strlen(text);
        const char *equals = memchr(text, ':', length);
        if (!equals)
            return false;
        size_t key = (size_t)(equals - text);
        const char *value = equals + 1;
        size_t value_length = length - key - 1;
#define KEY(name) (key == sizeof name - 1 && memcmp(text, name, key) == 0)
        bool ok;
        if (KEY("dir")) {
            ok = value_length > 0 && value_length < sizeof o->dir;
            if (ok)
                memcpy(o->dir, value, value_length);
        } else if (KEY("owner")) ok = (owner_given = parse_u64(value, value_length, &o->owner));
        else if (KEY("sample")) ok = parse_u64(value, value_length, &o->sample) && WITHIN(SAMPLE_BYTES, o->sample);
        else if (KEY("interval")) ok = parse_u64(value, value_length, &o->interval) && WITHIN(INTERVAL_MS, o->interval);
        else if (KEY("capacity")) ok = parse_u64(value, value_length, &o->capacity) && WITHIN(TABLE_CAPACITY, o->capacity);
        else if (KEY("stacks")) ok = parse_u64(value, value_length, &o->stacks) && WITHIN(MAX_STACKS, o->stacks);
        else if (KEY("snapshots")) ok = parse_u64(value, value_length, &o->snapshots) && WITHIN(MAX_SNAPSHOTS, o->snapshots);
        else if (KEY("depth")) ok = parse_u64(value, value_length, &o->depth) && WITHIN(STACK_DEPTH, o->depth);
        else if (KEY("seed")) ok = (o->seed_given = parse_u64(value, value_length, &o->seed));
        else if (KEY("java")) ok = parse_u64(value, value_length, &o->java) && o->java <= 1;
        else ok = false;
#undef KEY
        if (!ok)
            return false;
        text = end ? end + 1 : text + length;
    }
    return o->dir[0] == '/' && owner_given && o->owner <= INT32_MAX;
}

/* ---- starting a run ---- */

static void mark_tracking_start(void)
{
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    lh_start_realtime_ns = (uint64_t)real.tv_sec * 1000000000u + (uint64_t)real.tv_nsec;
    lh_start_monotonic_ns = lh_monotonic_ns();
}

static pid_t attached_pid;

static enum attach_result first_attach(void *vm, const struct attach_options *o)
{
    for (int i = 0; i < HOOK_COUNT; i++) {
        if (bound[i] == hooks[i].hook)
            return ATTACH_PRELOADED; /* the loader bound the shim's references to the shim: it was preloaded */
        hooks[i].real = bound[i];
    }
    lh_config.sample_interval_bytes = o->sample;
    lh_config.snapshot_interval_ms = o->interval;
    lh_config.table_capacity = o->capacity;
    lh_config.max_stacks = o->stacks;
    lh_config.max_snapshots = o->snapshots;
    lh_config.max_stack_depth = (uint32_t)o->depth;
    lh_config.seed_given = o->seed_given;
    lh_config.seed = o->seed;
    lh_config.java_stacks = o->java == 1;
    if (lh_config_open_raw_dir(o->dir) != LH_CONFIG_OK)
        return ATTACH_CANNOT_START;
    for (int i = 0; i < HOOK_COUNT; i++) {
        lh_interpose_bind_next(hooks[i].name, hooks[i].real);
        lh_interpose_mmap_bind_next(hooks[i].name, hooks[i].real);
    }
    lh_real_dlopen = (void *(*)(const char *, int))bound[HOOK_COUNT - 3];
    mark_tracking_start();
    atomic_store(&lh_attached, true);
    attached_pid = getpid();
    if (!lh_start_recording())
        return ATTACH_CANNOT_START;
    watch_owner((pid_t)o->owner);
    atomic_store(&lh_writer_each_snapshot, rescan);
    lh_agent_attach(vm); /* before sampling starts, so the first samples have their Java frames */
    atomic_store(&lh_run_state, LH_ON);
    struct lh_got_result result;
    lh_got_patch_loaded(hooks, HOOK_COUNT, true, true, &result);
    return ATTACH_OK;
}

static enum attach_result next_attach(const struct attach_options *o)
{
    if (lh_config_open_raw_dir(o->dir) != LH_CONFIG_OK)
        return ATTACH_CANNOT_START;
    lh_config.snapshot_interval_ms = o->interval;
    lh_config.max_snapshots = o->snapshots;
    lh_config.sample_interval_bytes = o->sample;
    /* What the last run left: its blocks' frees went unwatched since it stopped, and its counts are its own. */
    lh_live_clear();
    lh_mappings_clear();
    lh_stacks_reset_counts();
    lh_counters_reset_run();
    lh_sampler_configure(o->sample);
    mark_tracking_start();
    if (!lh_snapshot_open_directory() || !lh_writer_restart())
        return ATTACH_CANNOT_START;
    watch_owner((pid_t)o->owner);
    atomic_store(&lh_run_state, LH_ON);
    struct lh_got_result result;
    lh_got_patch_loaded(hooks, HOOK_COUNT, true, true, &result);
    return ATTACH_OK;
}

static enum attach_result attach(void *vm, const char *options)
{
    struct attach_options o;
    if (!parse_options(options, &o)) {
        lh_say("leakhunt: attach: bad agent options (expected dir:<absolute path>,owner:<pid>,...): ", options ? options : "(none)", NULL);
        return ATTACH_BAD_OPTIONS;
    }
    int state = atomic_load(&lh_run_state);
    if (atomic_load(&lh_attached)) {
        if (attached_pid != getpid())
            return ATTACH_FORKED;
        if (state == LH_ON)
            return ATTACH_ALREADY;
        if (state == LH_PAUSED)
            return next_attach(&o);
        return ATTACH_CANNOT_START; /* a first attach that failed half-way: the process keeps its hooks off */
    }
    if (state == LH_ON)
        return ATTACH_PRELOADED;
    return first_attach(vm, &o);
}

/* The JVM serialises agent loads on its attach listener thread; the lock is for anything else. */
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

LH_EXPORT int Agent_OnAttach(void *vm, char *options, void *reserved)
{
    (void)reserved;
    lh_tls.quiet++; /* the attach listener's allocations made for us are not the target's */
    pthread_mutex_lock(&attach_lock);
    enum attach_result result = attach(vm, options);
    pthread_mutex_unlock(&attach_lock);
    lh_tls.quiet--;
    return (int)result;
}
