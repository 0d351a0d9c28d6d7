/*
 * The JVMTI agent: Java frames for sampled allocations made on Java threads.
 *
 * The CLI puts -agentpath:<this library> into JAVA_TOOL_OPTIONS, so the JVM calls Agent_OnLoad in the library
 * LD_PRELOAD already loaded. The agent
 *  - enables ClassLoad (AsyncGetCallTrace refuses to run without it) and ClassPrepare, where it asks for the
 *    class's methods so their jmethodIDs exist before any sample refers to them;
 *  - on a sampled allocation, calls AsyncGetCallTrace: made for signal handlers, it takes no lock and does not
 *    allocate, and for a thread in native or VM code it walks from the thread's last Java frame anchor;
 *  - resolves method ids to class, name, source file and line table in a JVMTI agent thread every 100 ms and
 *    once more at VM death, before classes can unload and take their ids with them.
 * The agent never makes the JVM fail: anything missing means one warning line and native stacks only.
 *
 * Hot path cost: nothing on unsampled calls. A sampled allocation on a Java thread adds a GetEnv and one
 * AsyncGetCallTrace walk (on the peer JVM workload, ~0.6% of its throughput, within noise); its frames are
 * written into the caller's scratch slot, and the only stack this takes is a ucontext_t (~1 KiB).
 */
#define _GNU_SOURCE
#include "agent.h"

#if !__has_include(<jvmti.h>)
/* Built without a JDK's headers: no agent, native stacks only. */
LH_HIDDEN int lh_agent_java_stack(struct lh_java_frame *frames, int max_depth)
{
    (void)frames, (void)max_depth;
    return 0;
}
LH_HIDDEN void lh_agent_resolve_pending(void) {}
LH_HIDDEN unsigned lh_agent_status(void)
{
    return 0;
}
LH_HIDDEN void lh_agent_attach(void *vm)
{
    (void)vm;
}
#else

#include <dlfcn.h>
#include <jvmti.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "methods.h"
#include "state.h"

typedef struct {
    jint bci; /* AsyncGetCallTrace calls it lineno, but reports the bytecode index */
    jmethodID method_id;
} call_frame;

typedef struct {
    JNIEnv *env;
    jint frame_count; /* negative: the reason no stack could be taken */
    call_frame *frames;
} call_trace;

typedef void (*async_get_call_trace)(call_trace *, jint, void *);
_Static_assert(sizeof(call_frame) == sizeof(struct lh_java_frame), "AsyncGetCallTrace's frames are converted in place");

static JavaVM *java_vm;
static jvmtiEnv *jvmti;
static async_get_call_trace get_call_trace;
static _Atomic bool sampling_ready;
static _Atomic bool vm_dead;
static _Atomic unsigned agent_status;
static pthread_mutex_t resolve_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t stacks_resolved;
static uint32_t *line_scratch; /* (start_bci, line) pairs for the method being resolved */
#define LINE_SCRATCH_PAIRS 65536

#define METHOD_CAPACITY 65536
#define METHOD_ARENA_BYTES (4u << 20)

static void warn(const char *what)
{
    lh_say("leakhunt: JVM agent unavailable (", what, "): native stacks only", NULL);
}

/* ---- the sampled path ---- */

LH_HIDDEN int lh_agent_java_stack(struct lh_java_frame *out, int max_depth)
{
#if defined(__x86_64__)
    if (!atomic_load_explicit(&sampling_ready, memory_order_acquire) ||
        atomic_load_explicit(&vm_dead, memory_order_relaxed))
        return 0;
    JNIEnv *env;
    if ((*java_vm)->GetEnv(java_vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK)
        return 0; /* not a Java thread: GC, compiler-internal or the program's own native threads */
    /* AsyncGetCallTrace writes its frames straight into `out` (same size), converted in place below: no buffer of
     * max_depth frames on this thread's stack, which may be small. */
    call_frame *frames = (call_frame *)(void *)out;
    /* The JVM reads the context only for a thread in Java code without a frame anchor, which malloc never
     * sees; give it our own frame, which it will reject, rather than garbage. */
    ucontext_t context;
    memset(&context.uc_mcontext, 0, sizeof context.uc_mcontext);
    context.uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)&lh_agent_java_stack;
    context.uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)__builtin_frame_address(0);
    context.uc_mcontext.gregs[REG_RBP] = (greg_t)(uintptr_t)__builtin_frame_address(0);
    call_trace trace = {env, 0, frames};
    get_call_trace(&trace, max_depth, &context);
    if (trace.frame_count <= 0) {
        if (trace.frame_count < 0)
            LH_COUNT(java_stack_failures, 1);
        return 0;
    }
    for (int i = 0; i < trace.frame_count; i++) {
        call_frame frame;
        memcpy(&frame, &frames[i], sizeof frame);
        out[i] = (struct lh_java_frame){(uint64_t)(uintptr_t)frame.method_id, frame.bci, 0};
    }
    LH_COUNT(java_stacks, 1);
    return trace.frame_count;
#else
    (void)out, (void)max_depth;
    return 0;
#endif
}

/* ---- method resolution ---- */

static void release(void *p)
{
    if (p)
        (*jvmti)->Deallocate(jvmti, p);
}

static void resolve_method(JNIEnv *jni, jmethodID method)
{
    jclass klass = NULL;
    char *class_signature = NULL, *name = NULL, *source = NULL;
    jint line_count = 0;
    jvmtiLineNumberEntry *lines = NULL;
    struct lh_method_info info = {.method_id = (uint64_t)(uintptr_t)method, .source_file = ""};
    if ((*jvmti)->GetMethodDeclaringClass(jvmti, method, &klass) != JVMTI_ERROR_NONE ||
        (*jvmti)->GetClassSignature(jvmti, klass, &class_signature, NULL) != JVMTI_ERROR_NONE ||
        (*jvmti)->GetMethodName(jvmti, method, &name, NULL, NULL) != JVMTI_ERROR_NONE) {
        /* Its class is gone: remember that, so it is not tried again. */
        info.class_signature = "";
        info.name = "";
        lh_methods_add(&info);
        goto done;
    }
    if ((*jvmti)->GetSourceFileName(jvmti, klass, &source) == JVMTI_ERROR_NONE)
        info.source_file = source;
    if ((*jvmti)->GetLineNumberTable(jvmti, method, &line_count, &lines) != JVMTI_ERROR_NONE)
        line_count = 0;
    if (line_count > LINE_SCRATCH_PAIRS)
        line_count = LINE_SCRATCH_PAIRS;
    for (jint i = 0; i < line_count; i++) {
        line_scratch[2 * i] = (uint32_t)lines[i].start_location;
        line_scratch[2 * i + 1] = (uint32_t)lines[i].line_number;
    }
    info.class_signature = class_signature;
    info.name = name;
    info.line_count = (uint32_t)line_count;
    info.lines = line_scratch;
    lh_methods_add(&info);
done:
    release(class_signature);
    release(name);
    release(source);
    release(lines);
    if (klass)
        (*jni)->DeleteLocalRef(jni, klass);
}

static void resolve_new_stacks(JNIEnv *jni)
{
    static struct lh_java_frame frames[LH_MAX_DEPTH_LIMIT];
    pthread_mutex_lock(&resolve_lock);
    uint32_t count = lh_stacks_count();
    for (uint32_t id = stacks_resolved; id < count; id++) {
        int java_depth = 0;
        lh_stacks_get(id, NULL, frames, &java_depth, NULL);
        for (int i = 0; i < java_depth; i++)
            if (frames[i].method_id && !lh_methods_known(frames[i].method_id))
                resolve_method(jni, (jmethodID)(uintptr_t)frames[i].method_id);
    }
    stacks_resolved = count;
    pthread_mutex_unlock(&resolve_lock);
}

LH_HIDDEN void lh_agent_resolve_pending(void)
{
    JNIEnv *jni;
    if (!java_vm || atomic_load(&vm_dead) || (*java_vm)->GetEnv(java_vm, (void **)&jni, JNI_VERSION_1_6) != JNI_OK)
        return; /* only a Java thread of a live VM can ask the JVM */
    resolve_new_stacks(jni);
}

static void JNICALL resolver_main(jvmtiEnv *env, JNIEnv *jni, void *unused)
{
    (void)env, (void)unused;
    lh_tls.quiet = 1; /* for good: the JVM's allocations for our JVMTI calls are not the target's */
    while (!atomic_load(&vm_dead)) {
        resolve_new_stacks(jni);
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* ---- JVMTI events ---- */

static void prepare_methods(jvmtiEnv *env, jclass klass)
{
    jint count;
    jmethodID *methods;
    if ((*env)->GetClassMethods(env, klass, &count, &methods) == JVMTI_ERROR_NONE)
        (*env)->Deallocate(env, (unsigned char *)methods);
}

static void JNICALL on_class_load(jvmtiEnv *env, JNIEnv *jni, jthread thread, jclass klass)
{
    (void)env, (void)jni, (void)thread, (void)klass;
}

static void JNICALL on_class_prepare(jvmtiEnv *env, JNIEnv *jni, jthread thread, jclass klass)
{
    (void)jni, (void)thread;
    lh_tls.quiet++;
    prepare_methods(env, klass);
    lh_tls.quiet--;
}

static void start_resolver(jvmtiEnv *env, JNIEnv *jni)
{
    jclass thread_class = (*jni)->FindClass(jni, "java/lang/Thread");
    jmethodID constructor = thread_class ? (*jni)->GetMethodID(jni, thread_class, "<init>", "(Ljava/lang/String;)V") : NULL;
    jstring name = (*jni)->NewStringUTF(jni, "leakhunt-resolver");
    jobject thread = constructor && name ? (*jni)->NewObject(jni, thread_class, constructor, name) : NULL;
    if (!thread || (*env)->RunAgentThread(env, thread, resolver_main, NULL, JVMTI_THREAD_MIN_PRIORITY) != JVMTI_ERROR_NONE) {
        (*jni)->ExceptionClear(jni);
        warn("cannot start its resolver thread");
    }
}

static void JNICALL on_vm_init(jvmtiEnv *env, JNIEnv *jni, jthread thread)
{
    (void)thread;
    lh_tls.quiet++;
    jint count;
    jclass *classes;
    if ((*env)->GetLoadedClasses(env, &count, &classes) == JVMTI_ERROR_NONE) {
        for (jint i = 0; i < count; i++)
            prepare_methods(env, classes[i]);
        (*env)->Deallocate(env, (unsigned char *)classes);
    }
    start_resolver(env, jni);
    atomic_store_explicit(&sampling_ready, get_call_trace != NULL, memory_order_release);
    if (get_call_trace)
        atomic_fetch_or(&agent_status, LH_AGENT_SAMPLING);
    lh_tls.quiet--;
}

static void JNICALL on_vm_death(jvmtiEnv *env, JNIEnv *jni)
{
    (void)env;
    lh_tls.quiet++;
    resolve_new_stacks(jni);
    atomic_store(&sampling_ready, false);
    atomic_store(&vm_dead, true);
    lh_tls.quiet--;
}

static void start_agent(JavaVM *vm)
{
    if ((*vm)->GetEnv(vm, (void **)&jvmti, JVMTI_VERSION_1_2) != JNI_OK) {
        warn("the JVM offers no JVMTI 1.2 environment");
        return;
    }
    line_scratch = lh_map_memory(LINE_SCRATCH_PAIRS * 2 * sizeof *line_scratch);
    if (!line_scratch || !lh_methods_init(METHOD_CAPACITY, METHOD_ARENA_BYTES)) {
        warn("cannot map its method table");
        return;
    }
    jvmtiCapabilities wanted = {0};
    wanted.can_get_source_file_name = 1;
    wanted.can_get_line_numbers = 1;
    (*jvmti)->AddCapabilities(jvmti, &wanted); /* without them frames just lack file and line */
    jvmtiEventCallbacks callbacks = {0};
    callbacks.VMInit = on_vm_init;
    callbacks.VMDeath = on_vm_death;
    callbacks.ClassLoad = on_class_load;
    callbacks.ClassPrepare = on_class_prepare;
    if ((*jvmti)->SetEventCallbacks(jvmti, &callbacks, sizeof callbacks) != JVMTI_ERROR_NONE) {
        warn("the JVM refused its event callbacks");
        return;
    }
    jvmtiEvent events[] = {JVMTI_EVENT_VM_INIT, JVMTI_EVENT_VM_DEATH, JVMTI_EVENT_CLASS_LOAD, JVMTI_EVENT_CLASS_PREPARE};
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        (*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, events[i], NULL);
    get_call_trace = (async_get_call_trace)dlsym(RTLD_DEFAULT, "AsyncGetCallTrace");
    if (!get_call_trace)
        warn("this JVM does not export AsyncGetCallTrace");
    java_vm = vm;
    atomic_fetch_or(&agent_status, LH_AGENT_LOADED);
}

LH_HIDDEN unsigned lh_agent_status(void)
{
    return atomic_load(&agent_status);
}

LH_HIDDEN void lh_agent_attach(void *vm_pointer)
{
    JavaVM *vm = vm_pointer;
    if (!lh_config.java_stacks || (atomic_load(&agent_status) & LH_AGENT_LOADED))
        return; /* a second attach finds the agent running since the first */
    lh_tls.quiet++;
    start_agent(vm);
    JNIEnv *jni;
    /* The VM is live: what VMInit would have done — methods of the classes already loaded, the resolver, sampling. */
    if ((atomic_load(&agent_status) & LH_AGENT_LOADED) && (*vm)->GetEnv(vm, (void **)&jni, JNI_VERSION_1_6) == JNI_OK)
        on_vm_init(jvmti, jni, NULL);
    lh_tls.quiet--;
}

JNIEXPORT jint JNICALL Agent_OnLoad(JavaVM *vm, char *options, void *reserved)
{
    (void)options, (void)reserved;
    /* A JVM started as a child of the target (the shim idle there) or with Java stacks turned off. */
    if (atomic_load(&lh_run_state) != LH_ON || !lh_config.java_stacks)
        return JNI_OK;
    lh_tls.quiet++;
    start_agent(vm);
    lh_tls.quiet--;
    return JNI_OK; /* never stop a JVM from starting because of us */
}

#endif
