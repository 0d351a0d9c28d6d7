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

/** Removes template arguments, however nested: "std::map<K, V>::find<X>" → "std::map<>::find<>". */
export function withoutTemplateArguments(name: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    // "operator<", "operator<<", "operator->" are names, not template brackets.
    if (depth === 0 && /operator\s*$/.test(out) && (c === '<' || c === '>' || c === '-')) {
      out += c;
      continue;
    }
    if (c === '<') {
      if (depth === 0) out += '<';
      depth++;
    } else if (c === '>' && depth > 0) {
      depth--;
      if (depth === 0) out += '>';
    } else if (depth === 0) {
      out += c;
    }
  }
  return out;
}

/**
 * The qualified function name, without the return type that demangled template functions carry and without
 * parameters: "void std::__cxx11::basic_string<…>::_M_construct<…>(…)" → "std::__cxx11::basic_string<>::_M_construct<>".
 */
export function qualifiedName(functionName: string): string {
  if (/^0x|\+0x[0-9a-f]+$/i.test(functionName)) return functionName; // an unsymbolized address
  const bare = withoutTemplateArguments(functionName);
  const paren = bare.search(/\((?!anonymous namespace\))/);
  const head = (paren < 0 ? bare : bare.slice(0, paren)).trim();
  const m = /((?:(?:[A-Za-z_~][\w]*(?:<>)?|\(anonymous namespace\))::)*(?:operator\s*[^\s\w]+|operator\s+\w+|[A-Za-z_~][\w]*(?:<>)?))$/.exec(head);
  return m ? m[1]! : head;
}

export function isPlumbing(frame: HeapProfileFrame, patterns: readonly RegExp[]): boolean {
  const name = qualifiedName(frame.functionName);
  return patterns.some((p) => p.test(name));
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
