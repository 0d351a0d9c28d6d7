/**
 * Small C programs built from the shim's own sources, for tests that hold the C and the TypeScript halves of a rule
 * to the same answers. Built fresh into a temporary directory (never a stale binary), with the shim's flags.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** dist/test/unit/helpers/ → the package root. */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const nativeDir = join(repoRoot, 'native');

interface BuildNative {
  shimCflags: string[];
  shimLibs: string[];
  writeLimitsHeader(): string;
}

/** scripts/build-native.mjs: the shim's compiler flags, and the generated limits header. */
export async function buildNative(): Promise<BuildNative> {
  return (await import(pathToFileURL(join(repoRoot, 'scripts', 'build-native.mjs')).href)) as BuildNative;
}

export interface Driver {
  path: string;
  cleanup(): void;
}

/** Compiles C sources — paths under native/, or `{ name, text }` written out first — into one program. */
export async function compileDriver(sources: (string | { name: string; text: string })[]): Promise<Driver> {
  const { shimCflags, shimLibs, writeLimitsHeader } = await buildNative();
  writeLimitsHeader();
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-driver-'));
  const files = sources.map((source) => {
    if (typeof source === 'string') return join(nativeDir, source);
    const file = join(dir, source.name);
    writeFileSync(file, source.text);
    return file;
  });
  const path = join(dir, 'driver');
  const flags = shimCflags.filter((f) => f !== '-fvisibility=hidden');
  execFileSync(process.env.CC || 'cc', [...flags, '-I', nativeDir, '-o', path, ...files, ...shimLibs], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
