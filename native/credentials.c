/*
 * Calls that need the process to themselves: the setxid family and user namespaces.
 *
 * The shim's writer thread makes every target multi-threaded before main. Two kinds of call mind that:
 *  - unshare(CLONE_NEWUSER) and setns() into a user namespace fail with EINVAL in a multi-threaded process
 *    (unshare --user, bwrap, rootless containers);
 *  - glibc applies setuid() and friends to every thread (SIGSETXID) and abort()s the process when one thread
 *    fails. A program that dropped privileges with PR_SET_KEEPCAPS and capset() its *own* thread's
 *    capabilities back (setpriv --reuid/--regid) has a writer thread without them: setresgid fails there.
 * So around each of these calls the writer is stopped and joined, and started again after: the process is as
 * threaded as it would be without us. The writer re-created afterwards runs with the new credentials; if they
 * can no longer write the run directory, its snapshots stop (counted as write errors), the target does not.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <grp.h>
#include <sched.h>
#include <unistd.h>

#include <stdbool.h>

#include "shim.h"
#include "writer.h"
#include "state.h"

#define NEXT(name)                                                                                          \
    static __typeof__(&name) next_##name;                                                                   \
    if (!next_##name)                                                                                       \
        next_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name);

/* Runs `call` with the writer stopped; the writer's own (pthread_create's) allocations are not sampled. */
#define WITH_WRITER_STOPPED(call)                                                                           \
    do {                                                                                                    \
        lh_tls.quiet++;                                                                                     \
        bool paused = lh_writer_pause();                                                                  \
        result = (call);                                                                                    \
        if (paused)                                                                                         \
            lh_writer_resume();                                                                           \
        lh_tls.quiet--;                                                                                     \
    } while (0)

#define CREDENTIAL_CALL_1(name, type_a)                                                                     \
    LH_EXPORT int name(type_a a)                                                                            \
    {                                                                                                       \
        NEXT(name)                                                                                          \
        int result;                                                                                         \
        WITH_WRITER_STOPPED(next_##name(a));                                                                \
        return result;                                                                                      \
    }

#define CREDENTIAL_CALL_2(name, type_a, type_b)                                                             \
    LH_EXPORT int name(type_a a, type_b b)                                                                  \
    {                                                                                                       \
        NEXT(name)                                                                                          \
        int result;                                                                                         \
        WITH_WRITER_STOPPED(next_##name(a, b));                                                             \
        return result;                                                                                      \
    }

#define CREDENTIAL_CALL_3(name, type_a, type_b, type_c)                                                     \
    LH_EXPORT int name(type_a a, type_b b, type_c c)                                                        \
    {                                                                                                       \
        NEXT(name)                                                                                          \
        int result;                                                                                         \
        WITH_WRITER_STOPPED(next_##name(a, b, c));                                                          \
        return result;                                                                                      \
    }

CREDENTIAL_CALL_1(setuid, uid_t)
CREDENTIAL_CALL_1(setgid, gid_t)
CREDENTIAL_CALL_1(seteuid, uid_t)
CREDENTIAL_CALL_1(setegid, gid_t)
CREDENTIAL_CALL_2(setreuid, uid_t, uid_t)
CREDENTIAL_CALL_2(setregid, gid_t, gid_t)
CREDENTIAL_CALL_3(setresuid, uid_t, uid_t, uid_t)
CREDENTIAL_CALL_3(setresgid, gid_t, gid_t, gid_t)
CREDENTIAL_CALL_2(setgroups, size_t, const gid_t *)
CREDENTIAL_CALL_1(unshare, int)
CREDENTIAL_CALL_2(setns, int, int)
