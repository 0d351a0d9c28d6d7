/**
 * Site grouping. A "site" is the first frame of a stack that is not allocator plumbing: the function that
 * asked for memory, not the malloc, operator new, std::allocator or container internals it went through.
 */
import type { HeapProfileFrame } from '../pprof/index.js';

/**
 * Frames skipped when looking for the site, innermost first. Documented in README ("Site grouping").
 * Anchored on the function name as the symbolizer prints it (demangled).
 */
export const defaultPlumbingPatterns: readonly RegExp[] = [
  // the malloc family and libc's allocating helpers
  /^(__libc_)?(malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|pvalloc)$/,
  /^(__)?(strdup|strndup|wcsdup|asprintf|vasprintf|getline|getdelim|open_memstream)$/,
  // C++ allocation and the standard library's containers and strings
  /^operator new/, /^operator delete/, /^(std|__gnu_cxx|__cxxabiv1)::/, /^__cxa_/,
  // HotSpot's malloc wrappers
  /^os::(malloc|realloc|strdup)/, /^(AllocateHeap|ReallocateHeap|CHeapObj|Arena::|ChunkPool::|Chunk::operator new)/,
  // zlib's allocation hooks
  /^(zcalloc|zcfree)$/,
  // frames the profile writes itself
  /^\[/,
];

export function compilePatterns(sources: readonly string[]): RegExp[] {
  return sources.map((s) => new RegExp(s));
}

export function isPlumbing(frame: HeapProfileFrame, patterns: readonly RegExp[]): boolean {
  return patterns.some((p) => p.test(frame.functionName));
}

/** Index of the site frame in `stack` (innermost first); the innermost frame when all are plumbing. */
export function siteFrameIndex(stack: readonly HeapProfileFrame[], patterns: readonly RegExp[]): number {
  const i = stack.findIndex((frame) => !isPlumbing(frame, patterns));
  return i < 0 ? 0 : i;
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

/** "name (file:line)", or "name (lib.so)" when no line is known, or the bare name. */
export function describeFrame(frame: HeapProfileFrame): string {
  if (frame.fileName && frame.line) return `${frame.functionName} (${baseName(frame.fileName)}:${frame.line})`;
  if (frame.mappingFile && !frame.functionName.includes('+0x')) return `${frame.functionName} (${baseName(frame.mappingFile)})`;
  return frame.functionName;
}
