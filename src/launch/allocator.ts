/**
 * `leakhunt run --allocator jemalloc|tcmalloc`: the allocator library to preload after the shim (which forwards
 * to the next malloc in link order), found on this system — in the usual library directories or through
 * `ldconfig -p` — or a clear error saying which package to install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ExitCode, LeakhuntError } from '../core/errors.js';

export const ALLOCATORS = ['jemalloc', 'tcmalloc'] as const;
export type AllocatorName = (typeof ALLOCATORS)[number];

/** Library names, preferred first: tcmalloc's minimal build has no profiler of its own to get in the way. */
const libraries: Record<AllocatorName, string[]> = {
  jemalloc: ['libjemalloc.so.2', 'libjemalloc.so'],
  tcmalloc: ['libtcmalloc_minimal.so.4', 'libtcmalloc.so.4', 'libtcmalloc_minimal.so', 'libtcmalloc.so'],
};

const packages: Record<AllocatorName, string> = {
  jemalloc: 'apt-get install libjemalloc2',
  tcmalloc: 'apt-get install libgoogle-perftools4 (or libtcmalloc-minimal4)',
};

function multiarch(): string {
  return ({ x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu' } as Record<string, string>)[process.arch] ?? 'x86_64-linux-gnu';
}

export function librarySearchDirs(): string[] {
  const triple = multiarch();
  return [`/usr/lib/${triple}`, `/lib/${triple}`, '/usr/lib64', '/lib64', '/usr/lib', '/usr/local/lib'];
}

/** The paths `ldconfig -p` lists for a library name (empty when ldconfig is missing or fails). */
function ldconfigPaths(name: string): string[] {
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    const result = spawnSync(ldconfig, ['-p'], { encoding: 'utf8', timeout: 5000 });
    if (result.status !== 0 || !result.stdout) continue;
    return result.stdout.split('\n')
      .map((line) => /^\s*(\S+) \(([^)]*)\) => (\S+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null && m[1] === name && !/\b(i386|x32)\b/.test(m[2]!))
      .map((m) => m[3]!);
  }
  return [];
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export interface FindAllocatorOptions {
  dirs?: readonly string[];
  ldconfig?: (name: string) => string[];
}

/**
 * The library to preload for --allocator: jemalloc, tcmalloc, or the absolute path of an allocator library.
 * Throws an environment error (exit 4) naming the package to install when it is not on this system.
 */
export function findAllocator(name: string, options: FindAllocatorOptions = {}): string {
  if (isAbsolute(name)) {
    if (isFile(name)) return name;
    throw new LeakhuntError(`--allocator ${name}: no such file`, ExitCode.environment);
  }
  if (!(ALLOCATORS as readonly string[]).includes(name)) {
    throw new LeakhuntError(`--allocator must be jemalloc, tcmalloc or the absolute path of an allocator library, not "${name}"`, ExitCode.usage);
  }
  const allocator = name as AllocatorName;
  const dirs = options.dirs ?? librarySearchDirs();
  const ldconfig = options.ldconfig ?? ldconfigPaths;
  for (const library of libraries[allocator]) {
    const found = dirs.map((dir) => join(dir, library)).find((path) => existsSync(path) && isFile(path))
      ?? ldconfig(library).find(isFile);
    if (found) return found;
  }
  throw new LeakhuntError(
    `--allocator ${allocator}: ${libraries[allocator][0]} is not installed (looked in ${dirs.join(', ')} and ldconfig -p): ${packages[allocator]}`,
    ExitCode.environment,
  );
}
