#ifndef LEAKHUNT_AGENT_H
#define LEAKHUNT_AGENT_H

#include "shim.h"
#include "stacks.h"

/* The Java frames of the calling thread, innermost first, when it is a Java thread of a JVM that loaded the
 * agent; 0 otherwise. Safe inside malloc: no lock, no allocation. */
LH_HIDDEN int lh_agent_java_stack(struct lh_java_frame *frames, int max_depth);

/* Resolves the method ids of every stack interned so far (called before the final snapshot). */
LH_HIDDEN void lh_agent_resolve_pending(void);

#endif
