/* The shared object's half of the unwinder tests' call chain (built -O2 -fomit-frame-pointer). */
#include "unwind_chain.h"

__attribute__((noinline, visibility("default"))) int chain_library_step(struct chain *c)
{
    volatile char pad[48]; /* a frame of some size, as real functions have */
    pad[0] = (char)c->remaining;
    return chain_descend(c) + pad[0];
}
