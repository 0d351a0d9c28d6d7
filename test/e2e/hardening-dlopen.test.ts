/**
 * Hardening: a leak from inside a dlopen'd library that is dlclose'd afterwards (fixtures/c/hardening_dl.c).
 * The leaked blocks stay live after the code that allocated them is unmapped: every later snapshot must still
 * name the library's function.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHeapProfile, sampleValueIndex } from '../../src/pprof/index.js';
import { readSnapshotFile } from '../../src/snapshot/index.js';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const hardening = join(fixtureBuild, 'hardening');
const program = join(hardening, 'hardening_dl');
const libraryA = join(hardening, 'libhardening_dl_a.so');
const libraryB = join(hardening, 'libhardening_dl_b.so');
const LEAKED = 8 * 30011;

/** The fixtures are built by scripts/build-fixtures-hardening.mjs; a no-op when they are up to date. */
function buildFixtures(): void {
  const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-hardening.mjs'), '--quiet'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `building the hardening fixtures: ${result.stderr}`);
}

interface DlRun {
  out: string;
  stdout: string;
  rawFiles: string[];
  /** Innermost frames (function names) of the samples holding the leak, per profile, in sequence order. */
  leakFrames: string[][][];
  baseA: bigint;
  baseB: bigint;
}

async function runDl(dir: string, mode: 'snapshot-first' | 'close-at-once' | 'reuse'): Promise<DlRun> {
  const out = join(dir, mode);
  const result = await runCli(['run', '-q', '--out', out, '--interval', '100ms', '--sample-bytes', '1', '--',
    program, libraryA, libraryB, mode, '--wait-ms', '400']);
  assert.equal(result.exitCode, 0, result.all);
  assert.match(result.stdout, /hardening_dl done/);
  assert.match(result.stdout, /hardening_dl unloaded=1 /, 'dlclose really unmapped library A');
  const bases = /base_a=(0x[0-9a-f]+) base_b=(0x[0-9a-f]+)/.exec(result.stdout);
  assert.ok(bases, result.stdout);
  const pid = readJson<ReportJson & { pid: number }>(join(out, 'report.json')).pid;
  const rawDir = join(out, 'raw', String(pid));
  const rawFiles = readdirSync(rawDir).filter((f) => f.endsWith('.lhs')).sort().map((f) => join(rawDir, f));
  const profiles = readdirSync(join(out, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).sort();
  const leakFrames = profiles.map((file) => {
    const profile = readHeapProfile(join(out, 'snapshots', file));
    const inuse = sampleValueIndex(profile, 'inuse_space');
    return profile.samples.filter((s) => s.values[inuse] === LEAKED).map((s) => s.stack.map((f) => f.functionName));
  });
  return { out, stdout: result.stdout, rawFiles, leakFrames, baseA: BigInt(bases[1]!), baseB: BigInt(bases[2]!) };
}

/** The leak's frames in the last profile: exactly one sample of LEAKED bytes. */
function lastLeakStack(run: DlRun): string[] {
  const last = run.leakFrames[run.leakFrames.length - 1]!;
  assert.equal(last.length, 1, `one sample holds the ${LEAKED} leaked bytes in the last profile: ${JSON.stringify(last)}`);
  return last[0]!;
}

describe('hardening: dlopen/dlclose of a library that leaks', () => {
  const dir = tempDir('leakhunt-hardening-dl-');
  before(buildFixtures);
  after(() => dir.cleanup());

  it('the snapshots after dlclose still name the library\'s function (a snapshot saw it mapped)', async () => {
    const run = await runDl(dir.path, 'snapshot-first');
    const libraryMapped = run.rawFiles.map((file) => readSnapshotFile(file).maps.includes(libraryA));
    assert.ok(libraryMapped[0], 'the first snapshot was taken while the library was loaded');
    assert.equal(libraryMapped[libraryMapped.length - 1], false, 'the last snapshot was taken after dlclose');
    const stack = lastLeakStack(run);
    assert.deepEqual(stack.slice(0, 2), ['dl_leaky_function', 'dl_library_entry'], stack.join(' < '));
    const report = readJson<ReportJson>(join(run.out, 'report.json'));
    const site = report.sites.find((s) => s.function === 'dl_leaky_function');
    assert.ok(site, `sites: ${report.sites.map((s) => s.function).join(', ')}`);
    assert.equal(site.liveBytes, LEAKED);
  });

  it('a library loaded at the unloaded one\'s address does not take over its frames', async () => {
    const run = await runDl(dir.path, 'reuse');
    assert.equal(run.baseB, run.baseA, 'precondition: library B was mapped where library A had been');
    const stack = lastLeakStack(run);
    assert.ok(!stack.includes('other_library_function'), `attributed to library B: ${stack.join(' < ')}`);
    assert.deepEqual(stack.slice(0, 2), ['dl_leaky_function', 'dl_library_entry'], stack.join(' < '));
  });

  it('a library dlclose\'d before any snapshot was taken is still named', async () => {
    const run = await runDl(dir.path, 'close-at-once');
    assert.ok(run.rawFiles.every((file) => !readSnapshotFile(file).maps.includes(libraryA)), 'precondition: no snapshot saw library A');
    const stack = lastLeakStack(run);
    assert.deepEqual(stack.slice(0, 2), ['dl_leaky_function', 'dl_library_entry'], stack.join(' < '));
  });
});
