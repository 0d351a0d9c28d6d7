// Program for the symbolizer tests: prints the return addresses the library captured, with the load base
// dladdr reports for each, then its own /proc/self/maps.
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>

extern "C" {
void *capture_caller(size_t n);
void *lib_leak(size_t n);
extern void *captured_pcs[8];
extern int captured_count;
}

namespace leak {
struct Pool {
  __attribute__((noinline)) void *grow(unsigned long n);
};
void *Pool::grow(unsigned long n) {
  void *p = capture_caller(n); // MARK:Pool::grow
  if (p) static_cast<char *>(p)[0] = 3;
  return p;
}
}  // namespace leak

int main() {
  leak::Pool pool;
  lib_leak(10);
  pool.grow(20);
  for (int i = 0; i < captured_count; i++) {
    Dl_info info;
    if (!dladdr(captured_pcs[i], &info)) return 1;
    std::printf("pc %p base %p\n", captured_pcs[i], info.dli_fbase);
  }
  std::puts("maps");
  FILE *maps = std::fopen("/proc/self/maps", "r");
  if (!maps) return 1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, maps)) > 0) std::fwrite(buffer, 1, n, stdout);
  std::fclose(maps);
  return 0;
}
