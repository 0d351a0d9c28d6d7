/**
 * Separate debug info, found the way gdb finds it: by GNU build id (DIR/.build-id/xx/yyyy.debug in each debug
 * directory), then by `.gnu_debuglink` (next to the object, in its .debug/ subdirectory, then under each debug
 * directory at the object's absolute directory). The debug directories are /usr/lib/debug followed by those in
 * LEAKHUNT_DEBUG_DIRS (colon-separated).
 *
 * llvm-symbolizer 14 searches by itself: build ids in its --debug-file-directory list (only /usr/lib/debug when
 * none is given), debuglinks next to the object, in .debug/ and under /usr/lib/debug (it verifies the CRC).
 * GNU addr2line searches /usr/lib/debug only. So llvm-symbolizer is given the directory list and the object,
 * except where it would not look (a debuglink under another directory, or next to the original path of a kept
 * copy); addr2line is always given the debug file itself.
 */
import { statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseElfFile, type ElfInfo } from './elf.js';

export const defaultDebugDirectory = '/usr/lib/debug';

/** /usr/lib/debug, then `configured` (default: $LEAKHUNT_DEBUG_DIRS split on ':'), made absolute, each once. */
export function debugDirectories(configured?: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = configured ?? (env['LEAKHUNT_DEBUG_DIRS'] ?? '').split(':');
  return [...new Set([defaultDebugDirectory, ...extra.filter((d) => d !== '').map((d) => resolve(d))])];
}

/** llvm-symbolizer options making it search `directories` for build ids (none when that is its default anyway). */
export function llvmDebugDirectoryArgs(directories: readonly string[]): string[] {
  if (directories.length === 1 && directories[0] === defaultDebugDirectory) return [];
  return directories.map((d) => `--debug-file-directory=${d}`);
}

export interface DebugFile {
  path: string;
  foundBy: 'build-id' | 'debuglink';
  /** llvm-symbolizer, given the object and the directory list, finds this file itself. */
  llvmFindsIt: boolean;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** An ELF file that is not the object itself and, when both have build ids, has the object's. */
function fits(candidate: string, objectPath: string, elf: ElfInfo): boolean {
  if (!isFile(candidate) || resolve(candidate) === resolve(objectPath)) return false;
  const debug = parseElfFile(candidate);
  if (!debug) return false;
  return elf.buildId === undefined || debug.buildId === undefined || debug.buildId === elf.buildId;
}

/**
 * The separate debug file of `objectPath` (whose headers are `elf`), if any. `originalPath` is where the object
 * was loaded from when `objectPath` is a kept copy: debuglinks are relative to the original's directory.
 */
export function findDebugFile(
  objectPath: string, elf: ElfInfo, directories: readonly string[], originalPath: string = objectPath,
): DebugFile | undefined {
  const id = elf.buildId;
  if (id && id.length > 2) {
    for (const directory of directories) {
      const candidate = join(directory, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`);
      if (fits(candidate, objectPath, elf)) return { path: candidate, foundBy: 'build-id', llvmFindsIt: true };
    }
  }
  const link = elf.debugLink;
  if (!link || link !== basename(link)) return undefined;
  const candidates: [string, boolean][] = [];
  const objectDir = dirname(resolve(objectPath));
  for (const base of new Set([objectDir, dirname(resolve(originalPath))])) {
    candidates.push([join(base, link), base === objectDir], [join(base, '.debug', link), base === objectDir]);
  }
  for (const directory of directories) {
    for (const base of new Set([objectDir, dirname(resolve(originalPath))])) {
      candidates.push([join(directory, relative('/', base), link), directory === defaultDebugDirectory && base === objectDir]);
    }
  }
  for (const [candidate, llvmFindsIt] of candidates) {
    if (fits(candidate, objectPath, elf)) return { path: candidate, foundBy: 'debuglink', llvmFindsIt };
  }
  return undefined;
}
