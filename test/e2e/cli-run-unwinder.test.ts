/**
 * The shim's own unwinder against libgcc's, through the real shim: with LEAKHUNT_UNWINDER=both every sample is
 * captured by both and any difference is counted (native/FORMAT.md, COUNTERS `unwind_mismatches`). On every native
 * fixture (C, C++ exceptions, hundreds of threads, signal handlers, libraries opened and closed, 16 KiB thread
 * stacks, mmap, realloc, dlsym'd allocators, forks) and on the JVM fixtures (JNI libraries loaded late, zlib, JIT
 * frames where both stop), there must be none, and the tables must have captured most samples.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoCommand, fixtureBuild, javaBin, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const hardening = join(fixtureBuild, 'hardening');

type Report = ReportJson & {
  shim: { samples: number; fastUnwinds: number; unwindMismatches: number; javaStacks: number };
};

function buildFixtures(): void {
  for (const script of ['build-fixtures-hardening.mjs', 'build-fixtures-mappings.mjs']) {
    const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', script), '--quiet'], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${script}: ${result.stderr}`);
  }
}

async function record(out: string, unwinder: string, sampleBytes: string, command: string[], options: string[] = []): Promise<Report> {
  const result = await runCli(['run', '-q', '--out', out, '--interval', '200ms', '--sample-bytes', sampleBytes, ...options, '--', ...command],
    { env: { LEAKHUNT_UNWINDER: unwinder }, timeoutMs: 90_000 });
  assert.equal(result.exitCode, 0, result.all);
  return readJson<Report>(join(out, 'report.json'));
}

/** No difference, and (with `tablesUsed`) the tables captured some of the samples — not a share: how many depends
 * on how soon the writer, on a busy machine, builds the pages a stack needs (the first samples go to libgcc; so do
 * signal frames, and realloc lineage captures no stack at all). bench/ measures the share. */
function assertAgreed(name: string, report: Report, tablesUsed: boolean, minSamples = 1000): void {
  const { samples, fastUnwinds, unwindMismatches } = report.shim;
  assert.ok(samples > minSamples, `${name}: ${samples} samples`);
  assert.equal(unwindMismatches, 0, `${name}: ${unwindMismatches} of ${samples} samples unwound differently`);
  if (tablesUsed) assert.ok(fastUnwinds > 0, `${name}: the tables captured none of ${samples} samples`);
}

describe('run: the fast unwinder finds the frames libgcc finds', () => {
  const dir = tempDir('leakhunt-unwinder-');
  before(buildFixtures);
  after(() => dir.cleanup());

  it('native programs: C, C++ exceptions, 256 short-lived threads, signal handlers', async () => {
    const cases: [string, string, string[]][] = [
      ['steady', '4096', [join(fixtureBuild, 'steady'), '--seconds', '2']],
      ['leaky_apis', '1', [join(fixtureBuild, 'leaky_apis'), '--rounds', '12', '--round-ms', '100']],
      ['exceptions', '1', [join(hardening, 'hardening_exceptions'), '--threads', '4', '--rounds', '4000']],
      ['threads', '1', [join(fixtureBuild, 'forker'), 'threads', '256', '100']],
      // Its handlers allocate on a sigaltstack: those stacks are libgcc's, by design.
      ['sigsegv', '1', [join(hardening, 'hardening_sigsegv'), '--threads', '2', '--faults', '20000']],
    ];
    let fast = 0;
    for (const [name, sampleBytes, command] of cases) {
      const report = await record(join(dir.path, name), 'both', sampleBytes, command);
      assertAgreed(name, report, false);
      fast += report.shim.fastUnwinds;
    }
    assert.ok(fast > 0, 'the tables captured samples, so the two unwinders were compared');
  });

  it('the other native fixtures: dlopen and dlclose, small thread stacks, mmap, realloc, dlsym, forks, arenas', async () => {
    // name, sample bytes, command, options, the samples at least (how many a program makes in its time depends on the
    // load too). Short programs: whether the writer builds a given
    // one's tables in its lifetime depends on the machine's load, so the tables' use is asserted over them all.
    const cases: [string, string, string[], string[], number][] = [
      // Few allocations, each in a library opened, closed, and another opened at the same address.
      ['hardening_dl', '1', [join(hardening, 'hardening_dl'), join(hardening, 'libhardening_dl_a.so'), join(hardening, 'libhardening_dl_b.so'),
        'reuse', '--wait-ms', '400'], [], 10],
      // 16 KiB thread stacks: the walk's reads stay inside them (enough rounds to outlast the tables' first build).
      ['hardening_smallstack', '1', [join(hardening, 'hardening_smallstack'), '--threads', '4', '--levels', '16', '--rounds', '40000'],
        ['--stack-depth', '256'], 10],
      // Its setuid calls pause the writer again and again (credentials.c).
      ['hardening_forkstorm', '1', [join(hardening, 'hardening_forkstorm'), '--seconds', '1', '--threads', '2'], [], 10],
      ['mmap_leaks', '4096', [join(fixtureBuild, 'mmap_leaks'), '--seconds', '1.5'], [], 10],
      // A sampled block that realloc renews keeps its first stack (lineage): most of its samples capture none.
      ['realloc_lineage', '4096', [join(fixtureBuild, 'realloc_lineage'), '--seconds', '1.5'], [], 10],
      ['dlsym_leak', '4096', [join(fixtureBuild, 'dlsym_leak'), '--seconds', '1.5'], [], 10],
      ['cache_and_leak', '4096', [join(fixtureBuild, 'cache_and_leak'), '--rounds', '80', '--round-ms', '25'], [], 10],
      ['long_runner', '4096', [join(fixtureBuild, 'long_runner'), '--seconds', '1.5'], [], 10],
      ['fragmenter', '4096', [join(fixtureBuild, 'fragmenter'), '--seconds', '1.5', '--ramp-ms', '200', '--report-ms', '0'], [], 10],
    ];
    let fast = 0;
    for (const [name, sampleBytes, command, options, minSamples] of cases) {
      const report = await record(join(dir.path, name), 'both', sampleBytes, command, options);
      assertAgreed(name, report, false, minSamples);
      fast += report.shim.fastUnwinds;
    }
    assert.ok(fast > 0, 'the tables captured samples, so the two unwinders were compared');
  });

  it('a JVM: native frames through libjvm, JNI and zlib, then Java frames', async () => {
    const report = await record(join(dir.path, 'jvm'), 'both', '4096', demoCommand(5));
    assertAgreed('jvm', report, true);
    assert.ok(report.shim.javaStacks > 0, 'Java stacks were recorded too');
    // The demo's JNI leak is still found, with the stacks both unwinders agreed on.
    assert.ok(report.sites.some((s) => s.function.startsWith('remember_session_forever')),
      `sites: ${report.sites.slice(0, 5).map((s) => s.function).join(', ')}`);
  });

  it('a JVM whose JNI library keeps mappings (a library loaded late, mmap sites)', async () => {
    const command = [javaBin, `-Djava.library.path=${join(fixtureBuild, 'mappings')}`, '-cp', join(fixtureBuild, 'mappings', 'classes'),
      'mappings.MappingService', 'jni', '--seconds', '4'];
    assertAgreed('mappings', await record(join(dir.path, 'mappings'), 'both', '4096', command), true, 300);
  });

  it('LEAKHUNT_UNWINDER=libgcc uses libgcc only; the default uses the tables', async () => {
    const command = [join(fixtureBuild, 'steady'), '--seconds', '1'];
    const libgcc = await record(join(dir.path, 'libgcc'), 'libgcc', '4096', command);
    assert.ok(libgcc.shim.samples > 1000);
    assert.equal(libgcc.shim.fastUnwinds, 0);
    const tables = await record(join(dir.path, 'tables'), 'tables', '4096', command);
    assert.ok(tables.shim.fastUnwinds > 0, `${tables.shim.fastUnwinds} of ${tables.shim.samples}`);
    assert.equal(tables.shim.unwindMismatches, 0, 'nothing is compared outside the test mode');
  });
});
