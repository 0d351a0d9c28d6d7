#ifndef LEAKHUNT_GOT_H
#define LEAKHUNT_GOT_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* One function to redirect: the slots of `name` that hold `real` (or, for a PLT slot not yet bound, the object's own
 * lazy-binding stub) are made to hold `hook`. A slot bound to another definition (an object with an allocator of
 * its own) is left alone: its calls never reached `real`, and must not start now. */
struct lh_got_hook {
    const char *name;
    void *hook;
    void *real;
};

/* What a pass over the loaded objects did. */
struct lh_got_result {
    uint32_t objects_seen;    /* objects looked at (the shim, ld.so and the vDSO are not) */
    uint32_t objects_patched; /* of them, those with at least one slot rewritten */
    uint32_t slots_patched;   /* slots rewritten by this pass */
    uint32_t slots_foreign;   /* slots of a hooked name bound elsewhere, left alone */
};

/* Rewrites the slots of every loaded object (see got.c) when objects were loaded or unloaded since the last pass
 * (`force`: whatever the loader's counters say). Serialised: with `wait` false, a pass already under way on another
 * thread means this one is skipped (false), never waited for — the dlopen hook's rule, since the thread under way
 * may be waiting for the loader's lock that the caller holds. `hooks` must outlive every later pass. */
LH_HIDDEN bool lh_got_patch_loaded(const struct lh_got_hook *hooks, int hook_count, bool force, bool wait,
                                   struct lh_got_result *result);

/* The hooks of the last pass, for the dlopen hook's pass (NULL before the first). */
LH_HIDDEN const struct lh_got_hook *lh_got_hooks(int *hook_count);

#endif
