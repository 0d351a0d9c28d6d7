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
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <unistd.h>

#include <stdbool.h>

#include "shim.h"
#include "writer.h"
#include "state.h"

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

/* A wrapper: the call to the next definition of `name`, with the writer stopped around it. */
#define CREDENTIAL_CALL(name, params, args)                                                                 \
    LH_EXPORT int name params                                                                               \
    {                                                                                                       \
        __typeof__(&name) next = LH_NEXT(name);                                                             \
        if (!next) {                                                                                        \
            errno = ENOSYS;                                                                                 \
            return -1;                                                                                      \
        }                                                                                                   \
        int result;                                                                                         \
        WITH_WRITER_STOPPED(next args);                                                                     \
        return result;                                                                                      \
    }

CREDENTIAL_CALL(setuid, (uid_t a), (a))
CREDENTIAL_CALL(setgid, (gid_t a), (a))
CREDENTIAL_CALL(seteuid, (uid_t a), (a))
CREDENTIAL_CALL(setegid, (gid_t a), (a))
CREDENTIAL_CALL(setreuid, (uid_t a, uid_t b), (a, b))
CREDENTIAL_CALL(setregid, (gid_t a, gid_t b), (a, b))
CREDENTIAL_CALL(setresuid, (uid_t a, uid_t b, uid_t c), (a, b, c))
CREDENTIAL_CALL(setresgid, (gid_t a, gid_t b, gid_t c), (a, b, c))
CREDENTIAL_CALL(setgroups, (size_t a, const gid_t *b), (a, b))
CREDENTIAL_CALL(unshare, (int a), (a))
CREDENTIAL_CALL(setns, (int a, int b), (a, b))
