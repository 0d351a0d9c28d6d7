/**
 * The shim's own unwinder against libgcc's, through the real shim: with LEAKHUNT_UNWINDER=both every sample is
 * captured by both and any difference is counted (native/FORMAT.md, COUNTERS `unwind_mismatches`). On native
 * programs (C, C++ exceptions, hundreds of threads, signal handlers) and on a JVM (JNI libraries loaded late,
 * zlib, JIT frames where both stop), there must be none, and the tables must have captured most samples.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoCommand, fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const hardening = join(fixtureBuild, 'hardening');

type Report = ReportJson & {
  shim: { samples: number; fastUnwinds: number; unwindMismatches: number; javaStacks: number };
};

function buildFixtures(): void {
  const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-hardening.mjs'), '--quiet'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `building the hardening fixtures: ${result.stderr}`);
}

async function record(out: string, unwinder: string, sampleBytes: string, command: string[]): Promise<Report> {
  const result = await runCli(['run', '-q', '--out', out, '--interval', '200ms', '--sample-bytes', sampleBytes, '--', ...command],
    { env: { LEAKHUNT_UNWINDER: unwinder }, timeoutMs: 90_000 });
  assert.equal(result.exitCode, 0, result.all);
  return readJson<Report>(join(out, 'report.json'));
}

/** No difference, and the tables took at least `share` of the samples (the first ones, before the writer has
 * built the pages a stack needs, go to libgcc; so do signal frames). */
function assertAgreed(name: string, report: Report, share: number): void {
  const { samples, fastUnwinds, unwindMismatches } = report.shim;
  assert.ok(samples > 1000, `${name}: ${samples} samples`);
  assert.equal(unwindMismatches, 0, `${name}: ${unwindMismatches} of ${samples} samples unwound differently`);
  assert.ok(fastUnwinds >= share * samples, `${name}: the tables captured ${fastUnwinds} of ${samples} samples`);
}

describe('run: the fast unwinder finds the frames libgcc finds', () => {
  const dir = tempDir('leakhunt-unwinder-');
  before(buildFixtures);
  after(() => dir.cleanup());

  it('native programs: C, C++ exceptions, 256 short-lived threads, signal handlers', async () => {
    const cases: [string, string, string[], number][] = [
      ['steady', '4096', [join(fixtureBuild, 'steady'), '--seconds', '2'], 0.5],
      ['leaky_apis', '1', [join(fixtureBuild, 'leaky_apis'), '--rounds', '12', '--round-ms', '100'], 0.5],
      ['exceptions', '1', [join(hardening, 'hardening_exceptions'), '--threads', '4', '--rounds', '4000'], 0.5],
      ['threads', '1', [join(fixtureBuild, 'forker'), 'threads', '256', '100'], 0.5],
      // Its handlers allocate on a sigaltstack: those stacks are libgcc's, by design.
      ['sigsegv', '1', [join(hardening, 'hardening_sigsegv'), '--threads', '2', '--faults', '20000'], 0.2],
    ];
    for (const [name, sampleBytes, command, share] of cases) {
      assertAgreed(name, await record(join(dir.path, name), 'both', sampleBytes, command), share);
    }
  });

  it('a JVM: native frames through libjvm, JNI and zlib, then Java frames', async () => {
    const report = await record(join(dir.path, 'jvm'), 'both', '4096', demoCommand(5));
    assertAgreed('jvm', report, 0.5);
    assert.ok(report.shim.javaStacks > 0, 'Java stacks were recorded too');
    // The demo's JNI leak is still found, with the stacks both unwinders agreed on.
    assert.ok(report.sites.some((s) => s.function.startsWith('remember_session_forever')),
      `sites: ${report.sites.slice(0, 5).map((s) => s.function).join(', ')}`);
  });

  it('LEAKHUNT_UNWINDER=libgcc uses libgcc only; the default uses the tables', async () => {
    const command = [join(fixtureBuild, 'steady'), '--seconds', '1'];
    const libgcc = await record(join(dir.path, 'libgcc'), 'libgcc', '4096', command);
    assert.ok(libgcc.shim.samples > 1000);
    assert.equal(libgcc.shim.fastUnwinds, 0);
    const tables = await record(join(dir.path, 'tables'), 'tables', '4096', command);
    assert.ok(tables.shim.fastUnwinds > tables.shim.samples / 2, `${tables.shim.fastUnwinds} of ${tables.shim.samples}`);
    assert.equal(tables.shim.unwindMismatches, 0, 'nothing is compared outside the test mode');
  });
});
