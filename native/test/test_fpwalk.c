/* The frame-pointer walk past code without unwind information: a chain followed, and every way it must stop. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "../fpwalk.h"
#include "harness.h"

#define PAGE 4096u

/* Return addresses no unwind information covers (nothing is mapped there). */
#define RA(n) ((uintptr_t)0x100000 + (uintptr_t)(n) * 0x100)

static uintptr_t *words; /* two pages of fake stack, the second one's protection changed by some tests */

static void frame(size_t at_word, uintptr_t next_fp, uintptr_t return_address)
{
    words[at_word] = next_fp;
    words[at_word + 1] = return_address;
}

static uintptr_t address_of(size_t word)
{
    return (uintptr_t)&words[word];
}

static void follows_the_chain_up_the_stack(void)
{
    frame(0, address_of(8), RA(1));
    frame(8, address_of(100), RA(2));
    frame(100, address_of(600), RA(3)); /* into the second page */
    frame(600, 0, RA(4));
    uintptr_t pcs[16] = {7};
    int depth = lh_fpwalk_on(address_of(0), pcs, 1, 16);
    CHECK(depth == 5, "depth %d", depth);
    CHECK(pcs[0] == 7 && pcs[1] == RA(1) && pcs[2] == RA(2) && pcs[3] == RA(3) && pcs[4] == RA(4), "frames %lx %lx %lx %lx",
          (unsigned long)pcs[1], (unsigned long)pcs[2], (unsigned long)pcs[3], (unsigned long)pcs[4]);
}

static void stops_at_a_chain_that_goes_down_or_jumps_far(void)
{
    frame(10, address_of(4), RA(1));
    frame(4, address_of(20), RA(2));
    uintptr_t pcs[16];
    CHECK(lh_fpwalk_on(address_of(10), pcs, 0, 16) == 1, "a saved frame pointer below the frame ends the walk");
    frame(10, address_of(10), RA(1));
    CHECK(lh_fpwalk_on(address_of(10), pcs, 0, 16) == 1, "a frame pointing at itself ends it");
    frame(10, address_of(10) + (2u << 20), RA(1));
    CHECK(lh_fpwalk_on(address_of(10), pcs, 0, 16) == 1, "a frame of more than 1 MiB ends it");
    frame(10, address_of(12) + 3, RA(1));
    CHECK(lh_fpwalk_on(address_of(10), pcs, 0, 16) == 1, "a misaligned frame pointer ends it");
    frame(10, address_of(12), 0);
    CHECK(lh_fpwalk_on(address_of(10), pcs, 0, 16) == 0, "a null return address ends it, not kept");
}

static void never_faults_on_memory_it_cannot_read(void)
{
    uintptr_t pcs[16];
    /* A frame pointer into a page that is mapped but not readable (a guard page), and one into nothing. */
    CHECK(mprotect((char *)words + PAGE, PAGE, PROT_NONE) == 0, "mprotect");
    frame(500, address_of(512 + 4), RA(1));
    CHECK(lh_fpwalk_on(address_of(500), pcs, 0, 16) == 1, "the guard page ends the walk");
    CHECK(lh_fpwalk_on(address_of(512), pcs, 0, 16) == 0, "a frame on the guard page is not read");
    /* A frame whose two words straddle into the guard page. */
    CHECK(lh_fpwalk_on(address_of(511), pcs, 0, 16) == 0, "a frame cut by the guard page is not read");
    CHECK(mprotect((char *)words + PAGE, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect back");
    void *gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(gone != MAP_FAILED && munmap(gone, PAGE) == 0, "an unmapped page");
    CHECK(lh_fpwalk_on((uintptr_t)gone, pcs, 0, 16) == 0, "an unmapped frame pointer is not read");
    CHECK(lh_fpwalk_on(0, pcs, 0, 16) == 0, "a null frame pointer");
}

static void stops_back_in_code_with_unwind_information(void)
{
    /* A return address into this test's own code (compiled with unwind tables): kept, and the walk ends there. */
    uintptr_t into_c = (uintptr_t)&follows_the_chain_up_the_stack + 8;
    frame(0, address_of(8), RA(1));
    frame(8, address_of(16), into_c);
    frame(16, address_of(24), RA(3));
    uintptr_t pcs[16];
    int depth = lh_fpwalk_on(address_of(0), pcs, 0, 16);
    CHECK(depth == 2 && pcs[1] == into_c, "depth %d", depth);
}

static void respects_the_depth(void)
{
    for (size_t i = 0; i < 40; i++) frame(8 * i, address_of(8 * (i + 1)), RA(i + 1));
    uintptr_t pcs[8];
    CHECK(lh_fpwalk_on(address_of(0), pcs, 3, 8) == 8, "fills up to max_depth");
    CHECK(pcs[3] == RA(1) && pcs[7] == RA(5), "from depth 3 on");
    CHECK(lh_fpwalk_on(address_of(0), pcs, 8, 8) == 8, "a full stack stays full");
}

static void starts_only_from_an_object_without_unwind_information(void)
{
    /* Code with unwind information (this test), and code outside every object (a JIT's, a JVM's code cache). */
    CHECK(!lh_fpwalk_wanted((uintptr_t)&respects_the_depth + 8), "C code has unwind information");
    void *jit = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(jit != MAP_FAILED, "an anonymous code page");
    CHECK(!lh_fpwalk_wanted((uintptr_t)jit + 16), "code outside every object: no walk");
    munmap(jit, PAGE);
    CHECK(!lh_fpwalk_wanted(0) && !lh_fpwalk_wanted(1), "no pc");
}

int main(void)
{
    words = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (words == MAP_FAILED)
        return 1;
    RUN(follows_the_chain_up_the_stack);
    RUN(stops_at_a_chain_that_goes_down_or_jumps_far);
    RUN(never_faults_on_memory_it_cannot_read);
    RUN(stops_back_in_code_with_unwind_information);
    RUN(respects_the_depth);
    RUN(starts_only_from_an_object_without_unwind_information);
    return HARNESS_SUMMARY();
}
