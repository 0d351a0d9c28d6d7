/** Finding the external symbolizer programs on this machine. */
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execFile } from 'node:child_process';

function pathDirectories(): string[] {
  return (process.env['PATH'] ?? '').split(delimiter).filter((directory) => directory !== '');
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `name` on PATH (or `name` itself when it contains a slash and is executable). */
export function findOnPath(name: string): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? name : undefined;
  for (const directory of pathDirectories()) {
    const candidate = join(directory, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * llvm-symbolizer, or the newest versioned `llvm-symbolizer-NN` on PATH: distributions often install only the
 * versioned name (Debian's llvm-14 package provides /usr/bin/llvm-symbolizer-14).
 */
export function findLlvmSymbolizer(): string | undefined {
  const plain = findOnPath('llvm-symbolizer');
  if (plain) return plain;
  let best: { path: string; version: number } | undefined;
  for (const directory of pathDirectories()) {
    let names: string[];
    try {
      names = readdirSync(directory);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = /^llvm-symbolizer-(\d+)$/.exec(name);
      if (!m) continue;
      const path = join(directory, name);
      const version = Number(m[1]);
      if ((!best || version > best.version) && isExecutableFile(path)) best = { path, version };
    }
  }
  return best?.path;
}

/** The major version `tool --version` prints ("LLVM version 14.0.6"), or undefined if it does not run or say. */
export function llvmMajorVersion(toolPath: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile(toolPath, ['--version'], { timeout: 10_000 }, (error, stdout) => {
      if (error) return resolve(undefined);
      const m = /LLVM version (\d+)/.exec(stdout);
      resolve(m ? Number(m[1]) : undefined);
    });
  });
}
