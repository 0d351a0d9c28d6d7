/** --allocator: finding jemalloc or tcmalloc, the error naming the package, and LD_PRELOAD's order. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeakhuntError } from '../../src/core/errors.js';
import { findAllocator } from '../../src/launch/allocator.js';
import { NMT_OPTION, preloadWithShim, targetEnvironment } from '../../src/launch/environment.js';

const SHIM = '/opt/leakhunt/native/build/libleakhunt.so';
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

describe('findAllocator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-allocator-'));
  const libs = join(dir, 'lib');
  mkdirSync(libs);

  test('in a library directory, the preferred name first', () => {
    writeFileSync(join(libs, 'libtcmalloc.so.4'), '');
    writeFileSync(join(libs, 'libtcmalloc_minimal.so.4'), '');
    assert.equal(findAllocator('tcmalloc', { dirs: [libs], ldconfig: () => [] }), join(libs, 'libtcmalloc_minimal.so.4'));
  });

  test('through ldconfig -p when not in the usual directories', () => {
    writeFileSync(join(dir, 'libjemalloc.so.2'), '');
    const asked: string[] = [];
    const ldconfig = (name: string) => { asked.push(name); return name === 'libjemalloc.so.2' ? [join(dir, 'libjemalloc.so.2')] : []; };
    assert.equal(findAllocator('jemalloc', { dirs: [join(dir, 'none')], ldconfig }), join(dir, 'libjemalloc.so.2'));
    assert.deepEqual(asked, ['libjemalloc.so.2']);
  });

  test('absent: exit 4, one line naming the package to install', () => {
    for (const [name, pkg] of [['jemalloc', /apt-get install libjemalloc2/], ['tcmalloc', /apt-get install libgoogle-perftools4/]] as const) {
      assert.throws(() => findAllocator(name, { dirs: [join(dir, 'none')], ldconfig: () => [] }), (error: unknown) => {
        assert.ok(error instanceof LeakhuntError);
        assert.equal(error.exitCode, 4);
        assert.match(error.message, pkg);
        assert.ok(!error.message.includes('\n'));
        return true;
      });
    }
  });

  test('an absolute path is taken as it is; another name is a usage error', () => {
    assert.equal(findAllocator(join(libs, 'libtcmalloc.so.4')), join(libs, 'libtcmalloc.so.4'));
    assert.throws(() => findAllocator(join(dir, 'missing.so')), (e: unknown) => e instanceof LeakhuntError && e.exitCode === 4);
    assert.throws(() => findAllocator('mimalloc'), (e: unknown) => e instanceof LeakhuntError && e.exitCode === 2);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('the allocator and NMT in the target\'s environment', () => {
  test('LD_PRELOAD: the shim, then the allocator it forwards to, then what was there', () => {
    assert.equal(preloadWithShim(SHIM, '/lib/libfoo.so', JEMALLOC), `${SHIM}:${JEMALLOC}:/lib/libfoo.so`);
    assert.equal(preloadWithShim(SHIM, `${JEMALLOC} ${SHIM}`, JEMALLOC), `${SHIM}:${JEMALLOC}`);
    assert.throws(() => preloadWithShim(SHIM, undefined, '/opt/my libs/libjemalloc.so'), /space or colon/);
    const env = targetEnvironment({ shimPath: SHIM, rawDir: '/tmp/raw', sampleIntervalBytes: 1, snapshotIntervalMs: 100, allocatorPath: JEMALLOC }, {});
    assert.equal(env.LD_PRELOAD, `${SHIM}:${JEMALLOC}`);
  });

  test('--nmt adds NativeMemoryTracking to JAVA_TOOL_OPTIONS, with or without the agent', () => {
    const base = { JAVA_TOOL_OPTIONS: '-Xss2m' };
    const settings = { shimPath: SHIM, rawDir: '/tmp/raw', sampleIntervalBytes: 1, snapshotIntervalMs: 100, nativeMemoryTracking: true };
    assert.equal(targetEnvironment(settings, base).JAVA_TOOL_OPTIONS, `-agentpath:${SHIM} ${NMT_OPTION} -Xss2m`);
    assert.equal(targetEnvironment({ ...settings, javaStacks: false }, base).JAVA_TOOL_OPTIONS, `${NMT_OPTION} -Xss2m`);
    assert.equal(targetEnvironment({ ...settings, nativeMemoryTracking: false }, base).JAVA_TOOL_OPTIONS, `-agentpath:${SHIM} -Xss2m`);
    assert.equal(targetEnvironment({ ...settings, nativeMemoryTracking: false, javaStacks: false }, base).JAVA_TOOL_OPTIONS, '-Xss2m');
  });
});
