/**
 * Optional system packages some end-to-end tests need and a fresh machine may lack (Chromium for the HTML report's
 * browser test, jemalloc and tcmalloc for `--allocator`, Python for a Python service's run). Outside CI a test that needs a missing one is skipped,
 * saying what to install; under CI=true (`.ci/run` installs them) it runs, and fails, saying the same.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findAllocator } from '../../src/launch/index.js';

export interface SystemPackage {
  /** The Debian package that provides it. */
  apt: string;
  /** What it is, in a test's failure message. */
  what: string;
  installed: () => boolean;
}

function onPath(command: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, command)));
}

function allocatorFound(name: string): boolean {
  try {
    findAllocator(name);
    return true;
  } catch {
    return false;
  }
}

export const chromium: SystemPackage = { apt: 'chromium', what: '/usr/bin/chromium', installed: () => existsSync('/usr/bin/chromium') };
export const jemalloc: SystemPackage = { apt: 'libjemalloc2', what: 'libjemalloc.so.2', installed: () => allocatorFound('jemalloc') };
export const python3: SystemPackage = { apt: 'python3', what: 'python3', installed: () => onPath('python3') };
export const tcmalloc: SystemPackage = { apt: 'libtcmalloc-minimal4', what: 'libtcmalloc_minimal.so.4', installed: () => allocatorFound('tcmalloc') };

/** Whether this is a CI run, where every optional package is required (CI=true, as GitHub Actions and .ci/run set it). */
export function requiredHere(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['CI'] === 'true' || env['CI'] === '1';
}

/**
 * The `skip` option of a test that needs `pkg`: `false` when it is installed or under CI, else the reason it is
 * skipped ("skipped: apt-get install X"), which node's test runner prints beside the test.
 */
export function skipWithout(pkg: SystemPackage, env: NodeJS.ProcessEnv = process.env): string | false {
  if (pkg.installed() || requiredHere(env)) return false;
  return `skipped: apt-get install ${pkg.apt} (required under CI=true)`;
}

/** In a test that needs `pkg`: fails, saying what to install, when it is missing (that is, under CI). */
export function assertInstalled(pkg: SystemPackage): void {
  assert.ok(pkg.installed(), `${pkg.what} is missing: this test needs Debian's ${pkg.apt} (apt-get install -y ${pkg.apt}; .ci/run installs it), and CI=true requires it`);
}
