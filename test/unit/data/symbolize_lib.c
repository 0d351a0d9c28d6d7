/* Shared library for the symbolizer tests: a call made from inside an inlined function. */
#include <stdlib.h>

void *captured_pcs[8];
int captured_count;

/* Records its own return address, as the shim would for the caller of malloc. */
__attribute__((noinline)) void *capture_caller(size_t n) {
  captured_pcs[captured_count++] = __builtin_return_address(0);
  __asm__ volatile("" ::: "memory");
  return malloc(n);
}

static inline __attribute__((always_inline)) void *inlined_helper(size_t n) {
  void *p = capture_caller(n * 2); /* MARK:inlined_helper */
  if (p) ((char *)p)[0] = 1;
  return p;
}

__attribute__((noinline)) void *lib_leak(size_t n) {
  void *p = inlined_helper(n + 1); /* MARK:lib_leak */
  if (p) ((char *)p)[1] = 2;
  return p;
}
