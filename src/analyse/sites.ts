/**
 * Site grouping. A "site" is the first frame of a stack that is not allocator plumbing: the function that
 * asked for memory, not the malloc, operator new, std::allocator or container internals it went through.
 */
import type { HeapProfileFrame } from '../pprof/index.js';
import type { SiteKind } from '../snapshot/types.js';

/**
 * Frames skipped when looking for the site, innermost first. Documented in README ("Site grouping").
 * Anchored on the function name as the symbolizer prints it (demangled).
 */
export const defaultPlumbingPatterns: readonly RegExp[] = [
  // the malloc family and libc's allocating helpers
  /^(__libc_)?(malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|pvalloc)$/,
  /^(__)?(strdup|strndup|wcsdup|asprintf|vasprintf|getline|getdelim|open_memstream)$/,
  // the mmap family (a site of mapped memory is who asked for the mapping)
  /^(__)?(mmap|mmap64|munmap|mremap)$/,
  // C++ allocation and the standard library's containers and strings
  /^operator new/, /^operator delete/, /^(std|__gnu_cxx|__cxxabiv1)::/, /^__cxa_/,
  // HotSpot's malloc wrappers, and its Unsafe entry points (Unsafe_AllocateMemory0, …)
  /^os::(malloc|realloc|strdup)/, /^(AllocateHeap|ReallocateHeap|CHeapObj|Arena::|ChunkPool::|Chunk::operator new)/,
  /^Unsafe_\w+$/,
  // zlib's allocation hooks
  /^(zcalloc|zcfree)$/,
  // frames the profile writes itself
  /^\[/,
];

/**
 * Library frames: skipped when the stack reaches the program's own code beyond them, so that every user of
 * Deflater, ByteBuffer.allocateDirect or Unsafe is its own site instead of all sharing deflateInit2_ or
 * Unsafe_AllocateMemory0. When nothing but library frames follow, the first of them is the site.
 */
export const defaultLibraryPatterns: readonly RegExp[] = [
  // the JDK's own classes, and its JNI glue (Java_java_util_zip_Deflater_init, …)
  /^(java|javax|jdk|sun|com\.sun)\./, /^Java_(java|javax|jdk|sun|com_sun)_/,
  // zlib, under java.util.zip and many native libraries
  /^(deflate|inflate)\w*$/,
];

/** What reports write after a site's name when it mapped memory: " [mmap]" (anonymous) or " [mmap file]"; nothing
 * for malloc. */
export function siteKindTag(kind: SiteKind | undefined): string {
  return kind === 'mmap-anon' ? ' [mmap]' : kind === 'mmap-file' ? ' [mmap file]' : '';
}

export function compilePatterns(sources: readonly string[]): RegExp[] {
  return sources.map((s) => new RegExp(s));
}

/** Template arguments make C++ names unreadable in a terminal: "std::map<…>::find(…)". report.json keeps them. */
export function abbreviateTemplates(name: string): string {
  let out = '';
  let depth = 0;
  let hidden = false;
  for (const c of name) {
    if (c === '<') {
      if (depth === 0) {
        out += '<';
        hidden = false;
      }
      depth++;
    } else if (c === '>' && depth > 0) {
      depth--;
      if (depth === 0) out += hidden ? '…>' : '>';
    } else if (depth === 0) {
      out += c;
    } else {
      hidden = true;
    }
  }
  return out.length > 200 ? `${out.slice(0, 120)}…${out.slice(-60)}` : out;
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

/** Drops the parameter list (the last balanced "(…)") and trailing qualifiers: "f(int) const" → "f". */
function withoutParameters(name: string): string {
  const s = name.trim().replace(/(\s+\[clone [^\]]*\])+$/, '').replace(/(\s*\b(const|volatile|noexcept)\b|\s*&&?)+$/, '');
  if (!s.endsWith(')')) return s;
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    if (s[i] === ')') depth++;
    else if (s[i] === '(' && --depth === 0) return s.slice(0, i);
  }
  return s;
}

/**
 * The qualified function name, without the return type that demangled template functions carry, without
 * template arguments and parameters: "void std::basic_string<…>::_M_construct<…>(…)" →
 * "std::basic_string<>::_M_construct<>"; "Pool::operator()(unsigned long)" → "Pool::operator()".
 */
export function qualifiedName(functionName: string): string {
  if (/^0x|\+0x[0-9a-f]+$/i.test(functionName)) return functionName; // an unsymbolized address
  const head = withoutParameters(withoutTemplateArguments(functionName));
  // The return type, if any, is everything before the last space outside brackets.
  const tokens: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of head) {
    if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c)) depth--;
    if (c === ' ' && depth === 0) {
      if (current) tokens.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  if (current) tokens.push(current);
  const n = tokens.length;
  if (n >= 2 && /(^|::)operator$/.test(tokens[n - 2]!)) return `${tokens[n - 2]} ${tokens[n - 1]}`;
  return tokens[n - 1] ?? head;
}

export function isPlumbing(frame: HeapProfileFrame, patterns: readonly RegExp[]): boolean {
  const name = qualifiedName(frame.functionName);
  return patterns.some((p) => p.test(name));
}

/**
 * Index of the site frame in `stack` (innermost first): the first frame that is neither allocator plumbing
 * nor a library frame; failing that, the first that is not plumbing; failing that, the innermost.
 */
export function siteFrameIndex(
  stack: readonly HeapProfileFrame[], patterns: readonly RegExp[], libraryPatterns: readonly RegExp[] = defaultLibraryPatterns,
): number {
  const own = stack.findIndex((frame) => !isPlumbing(frame, patterns) && !isPlumbing(frame, libraryPatterns));
  if (own >= 0) return own;
  const library = stack.findIndex((frame) => !isPlumbing(frame, patterns));
  return library < 0 ? 0 : library;
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
