/* A call chain for the unwinder tests, built like real code: -O2 without frame pointers, levels alternating
 * between the test program and a shared object (unwind_chain_lib.c), every seventh level through glibc's qsort
 * (its comparator continues the chain). The asm after each call keeps every level a real frame (no tail call). */
#ifndef LEAKHUNT_TEST_UNWIND_CHAIN_H
#define LEAKHUNT_TEST_UNWIND_CHAIN_H

struct chain {
    int remaining;
    int (*program_step)(struct chain *);
    int (*library_step)(struct chain *);
    int (*through_qsort)(struct chain *);
    int (*leaf)(struct chain *);
};

static inline int chain_descend(struct chain *c)
{
    int level = --c->remaining;
    int result;
    if (level <= 0)
        result = c->leaf(c);
    else if (level % 7 == 3)
        result = c->through_qsort(c);
    else
        result = (level & 1 ? c->library_step : c->program_step)(c);
    __asm__ volatile("" : "+r"(result));
    return result + 1;
}

int chain_library_step(struct chain *c);

#endif
