import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeakhuntError } from '../../src/core/errors.js';
import { preloadWithShim, targetEnvironment, type ShimSettings } from '../../src/launch/environment.js';

const SHIM = '/opt/leakhunt/native/build/libleakhunt.so';

function assertRefused(shimPath: string): void {
  assert.throws(() => preloadWithShim(shimPath, undefined), (error: unknown) => {
    assert.ok(error instanceof LeakhuntError, String(error));
    assert.equal(error.exitCode, 2);
    assert.ok(error.message.includes(shimPath), error.message);
    assert.match(error.message, /space or colon/);
    return true;
  });
}

describe('preloadWithShim', () => {
  test('the shim alone when nothing else is preloaded', () => {
    assert.equal(preloadWithShim(SHIM, undefined), SHIM);
    assert.equal(preloadWithShim(SHIM, ''), SHIM);
    assert.equal(preloadWithShim(SHIM, ' : :: '), SHIM);
  });

  test('prepended to a colon-separated list, keeping its order', () => {
    assert.equal(preloadWithShim(SHIM, '/usr/lib/libjemalloc.so.2:/usr/lib/libtrace.so'), `${SHIM}:/usr/lib/libjemalloc.so.2:/usr/lib/libtrace.so`);
  });

  test('prepended to a space-separated or mixed list, which the loader also accepts', () => {
    assert.equal(preloadWithShim(SHIM, 'liba.so libb.so'), `${SHIM}:liba.so:libb.so`);
    assert.equal(preloadWithShim(SHIM, '  liba.so \t libb.so:libc.so  '), `${SHIM}:liba.so:libb.so:libc.so`);
  });

  test('not duplicated when already there, wherever it is', () => {
    assert.equal(preloadWithShim(SHIM, SHIM), SHIM);
    assert.equal(preloadWithShim(SHIM, `liba.so:${SHIM}`), `${SHIM}:liba.so`);
    assert.equal(preloadWithShim(SHIM, `${SHIM} liba.so ${SHIM}`), `${SHIM}:liba.so`);
    const once = preloadWithShim(SHIM, 'liba.so');
    assert.equal(preloadWithShim(SHIM, once), once);
  });

  test('a library whose name merely contains the shim path is kept', () => {
    assert.equal(preloadWithShim(SHIM, `${SHIM}.bak`), `${SHIM}:${SHIM}.bak`);
  });

  test('a shim path with a space or colon is refused: LD_PRELOAD cannot express it', () => {
    assertRefused('/home/me/My Tools/leakhunt/native/build/libleakhunt.so');
    assertRefused('/srv/a:b/libleakhunt.so');
    assertRefused('/srv/tab\there/libleakhunt.so');
    assertRefused('/srv/new\nline/libleakhunt.so');
    assert.throws(() => preloadWithShim('/x y/libleakhunt.so', 'liba.so'), LeakhuntError);
  });
});

describe('targetEnvironment', () => {
  const minimal: ShimSettings = { shimPath: SHIM, rawDir: '/srv/runs/run-1/raw', sampleIntervalBytes: 524_288, snapshotIntervalMs: 10_000 };

  /** A base environment left over from an earlier leakhunt run with every optional knob set. */
  const stale = (): NodeJS.ProcessEnv => ({
    PATH: '/usr/local/bin:/usr/bin',
    HOME: '/home/me',
    LD_PRELOAD: 'libjemalloc.so.2',
    LEAKHUNT_DIR: '/srv/runs/old/raw',
    LEAKHUNT_SAMPLE_BYTES: '1',
    LEAKHUNT_INTERVAL_MS: '50',
    LEAKHUNT_TABLE_CAPACITY: '1024',
    LEAKHUNT_MAX_STACKS: '256',
    LEAKHUNT_STACK_DEPTH: '4',
    LEAKHUNT_SEED: '42',
    LEAKHUNT_FOLLOW_CHILDREN: '1',
    LEAKHUNT_PARENT_PID: '1',
  });

  test('the required LEAKHUNT_* variables come from the settings, as strings', () => {
    const env = targetEnvironment(minimal, stale());
    assert.equal(env.LEAKHUNT_DIR, '/srv/runs/run-1/raw');
    assert.equal(env.LEAKHUNT_SAMPLE_BYTES, '524288');
    assert.equal(env.LEAKHUNT_INTERVAL_MS, '10000');
    for (const [name, value] of Object.entries(env)) assert.equal(typeof value, 'string', name);
  });

  test('stale optional variables from the base environment are removed', () => {
    const env = targetEnvironment(minimal, stale());
    for (const name of ['LEAKHUNT_TABLE_CAPACITY', 'LEAKHUNT_MAX_STACKS', 'LEAKHUNT_STACK_DEPTH', 'LEAKHUNT_SEED', 'LEAKHUNT_FOLLOW_CHILDREN']) {
      assert.ok(!Object.hasOwn(env, name), `${name} = ${env[name]}`);
    }
  });

  test('optional settings are passed on, including a seed of 0', () => {
    const env = targetEnvironment({
      ...minimal, tableCapacity: 131_072, maxStacks: 4096, maxStackDepth: 32, seed: 0, followChildren: true,
    }, stale());
    assert.equal(env.LEAKHUNT_TABLE_CAPACITY, '131072');
    assert.equal(env.LEAKHUNT_MAX_STACKS, '4096');
    assert.equal(env.LEAKHUNT_STACK_DEPTH, '32');
    assert.equal(env.LEAKHUNT_SEED, '0');
    assert.equal(env.LEAKHUNT_FOLLOW_CHILDREN, '1');
  });

  test('followChildren false removes an inherited LEAKHUNT_FOLLOW_CHILDREN', () => {
    assert.ok(!Object.hasOwn(targetEnvironment({ ...minimal, followChildren: false }, stale()), 'LEAKHUNT_FOLLOW_CHILDREN'));
  });

  test('LEAKHUNT_PARENT_PID is this process, whatever the base says', () => {
    assert.equal(targetEnvironment(minimal, stale()).LEAKHUNT_PARENT_PID, String(process.pid));
    assert.equal(targetEnvironment(minimal, {}).LEAKHUNT_PARENT_PID, String(process.pid));
  });

  test('LD_PRELOAD puts the shim before what the base preloads', () => {
    assert.equal(targetEnvironment(minimal, stale()).LD_PRELOAD, `${SHIM}:libjemalloc.so.2`);
    assert.equal(targetEnvironment(minimal, {}).LD_PRELOAD, SHIM);
    assert.equal(targetEnvironment(minimal, { LD_PRELOAD: `${SHIM}:libx.so` }).LD_PRELOAD, `${SHIM}:libx.so`);
  });

  test('a shim path LD_PRELOAD cannot express is refused', () => {
    assert.throws(() => targetEnvironment({ ...minimal, shimPath: '/my tools/libleakhunt.so' }, {}), (error: unknown) => {
      assert.ok(error instanceof LeakhuntError);
      assert.equal(error.exitCode, 2);
      return true;
    });
  });

  test('everything else is passed through and the base is not modified', () => {
    const base = stale();
    const copy = { ...base };
    const env = targetEnvironment({ ...minimal, seed: 7 }, base);
    assert.equal(env.PATH, '/usr/local/bin:/usr/bin');
    assert.equal(env.HOME, '/home/me');
    assert.deepEqual(base, copy);
    assert.notEqual(env, base);
  });

  test('the base defaults to process.env', () => {
    const marker = 'LEAKHUNT_UNIT_TEST_MARKER';
    const savedSeed = process.env.LEAKHUNT_SEED;
    process.env[marker] = 'present';
    process.env.LEAKHUNT_SEED = '99';
    try {
      const env = targetEnvironment(minimal);
      assert.equal(env[marker], 'present');
      assert.ok(!Object.hasOwn(env, 'LEAKHUNT_SEED'));
      assert.equal(process.env.LEAKHUNT_SEED, '99');
      assert.equal(env.LD_PRELOAD, preloadWithShim(SHIM, process.env.LD_PRELOAD));
    } finally {
      delete process.env[marker];
      if (savedSeed === undefined) delete process.env.LEAKHUNT_SEED;
      else process.env.LEAKHUNT_SEED = savedSeed;
    }
  });
});
