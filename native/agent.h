#ifndef LEAKHUNT_AGENT_H
#define LEAKHUNT_AGENT_H

#include "shim.h"
#include "stacks.h"

/* The Java frames of the calling thread, innermost first, when it is a Java thread of a JVM that loaded the
 * agent; 0 otherwise. Safe inside malloc: no lock, no allocation. */
LH_HIDDEN int lh_agent_java_stack(struct lh_java_frame *frames, int max_depth);

/* What the agent got to in this process, for the snapshot's META flags: bit 0 Agent_OnLoad set it up (JVMTI
 * environment, events), bit 1 it could sample (VMInit reached and the JVM exports AsyncGetCallTrace). Sticky:
 * a JVM past VMDeath still says what it was. 0 in a process that is no JVM, or whose JVM did not load us. */
#define LH_AGENT_LOADED 1u
#define LH_AGENT_SAMPLING 2u
LH_HIDDEN unsigned lh_agent_status(void);

/* Agent_OnAttach's part (attach.c): the agent started in a live VM (a JavaVM *), on a Java thread; once per process. */
LH_HIDDEN void lh_agent_attach(void *vm);

/* Resolves the method ids of every stack interned so far (called before the final snapshot). */
LH_HIDDEN void lh_agent_resolve_pending(void);

#endif
