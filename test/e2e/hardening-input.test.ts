/**
 * Hardening: damaged input to `leakhunt report`, `diff` and `gate` — truncated, corrupted and wrong-version raw
 * snapshots, pprof profiles and run files. Each is refused with one line on stderr and exit code 2, never a stack
 * trace, and nothing in the run directory is rewritten. Then seeded fuzzing of what `leakhunt report DIR` (and the
 * processing of raw/ at the end of a run, and the gate) reads, in-process.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Profile } from 'pprof-format';
import { render } from '../../src/commands/report.js';
import { LeakhuntError } from '../../src/core/errors.js';
import { evaluateGate, loadRunReport, resolveGateOptions } from '../../src/gate/index.js';
import { processRun, reanalyseRun } from '../../src/pipeline/index.js';
import { readRunMeta } from '../../src/rundir/index.js';
import { assertOneLineError, fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';
import { xorshift32 as prng } from '../unit/helpers/prng.js';

/** Every file under `dir`: its size, mtime and content hash, to show nothing was rewritten. */
function fingerprint(dir: string): Record<string, string> {
  const prints: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const stat = statSync(path);
        prints[relative(dir, path)] = `${stat.size} ${stat.mtimeMs} ${createHash('sha1').update(readFileSync(path)).digest('hex')}`;
      }
    }
  };
  walk(dir);
  return prints;
}

/** The outcome every damaged input must have: a result, or a one-line LeakhuntError with exit code 2. */
function classify(error: unknown, what: string): 'rejected' {
  if (!(error instanceof LeakhuntError)) {
    assert.fail(`${what}: ${(error as Error)?.constructor?.name}: ${String((error as Error)?.message ?? error).split('\n')[0]} `
      + `(${String((error as Error)?.stack).split('\n')[1]?.trim()}) — the CLI would exit 70`);
  }
  assert.equal(error.exitCode, 2, `${what}: ${error.message}`);
  assert.ok(!/[\r\n]/.test(error.message), `${what}: one line: ${JSON.stringify(error.message)}`);
  return 'rejected';
}

const weirdJsonValues: unknown[] = [null, -1, 0, 1e308, -1e308, 'x', '', [], {}, true, 1.5, 2 ** 60, [null], [{}]];

/** 1–3 values somewhere in a JSON document replaced by odd ones, or removed. */
function mutateJson(text: string, int: (n: number) => number): string {
  const doc = JSON.parse(text) as unknown;
  const paths: (string | number)[][] = [];
  const walk = (value: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (value && typeof value === 'object') for (const key of Object.keys(value)) walk((value as Record<string, unknown>)[key], [...path, key]);
  };
  walk(doc, []);
  for (let m = 0, n = 1 + int(3); m < n && paths.length > 1; m++) {
    const path = paths[1 + int(paths.length - 1)]!;
    let parent = doc as Record<string | number, unknown> | undefined;
    for (const key of path.slice(0, -1)) parent = parent?.[key] as Record<string | number, unknown> | undefined;
    if (!parent || typeof parent !== 'object') continue;
    if (int(5) === 0) delete parent[path[path.length - 1]!];
    else parent[path[path.length - 1]!] = weirdJsonValues[int(weirdJsonValues.length)];
  }
  return JSON.stringify(doc);
}

/** 1–3 byte-level mutations: bit flips, a deleted range, truncation, special bytes, odd u32/f64 values. */
function mutateBytes(source: Buffer, int: (n: number) => number): Buffer {
  let buf = Buffer.from(source);
  for (let m = 0, n = 1 + int(3); m < n && buf.length > 0; m++) {
    switch (int(6)) {
      case 0: for (let k = 0, flips = 1 + int(4); k < flips; k++) buf[int(buf.length)]! ^= 1 << int(8); break;
      case 1: {
        const at = int(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(buf.length, at + 1 + int(32)))]);
        break;
      }
      case 2: buf = buf.subarray(0, int(buf.length + 1)); break;
      case 3: buf[int(buf.length)] = [0, 0x7f, 0x80, 0xff][int(4)]!; break;
      case 4: if (buf.length >= 4) buf.writeUInt32LE([0, 1, 0xffff, 0x7fffffff, 0xffffffff][int(5)]!, 4 * int(buf.length >> 2)); break;
      default: if (buf.length >= 8) buf.writeDoubleLE([NaN, Infinity, -Infinity, -1, 1e300][int(5)]!, 8 * int(buf.length >> 3));
    }
  }
  return buf;
}

describe('hardening: damaged input to report, diff and gate', () => {
  const dir = tempDir('leakhunt-hardening-input-');
  const run = join(dir.path, 'run');
  const bad = join(dir.path, 'bad');
  let pid = 0;
  let goodProfile = '';
  let before0: Record<string, string> = {};

  before(async () => {
    const result = await runCli(['run', '-q', '--out', run, '--interval', '100ms', '--sample-bytes', '1', '--',
      join(fixtureBuild, 'leaky_apis'), '--rounds', '6', '--round-ms', '60']);
    assert.equal(result.exitCode, 0, result.all);
    pid = readJson<ReportJson & { pid: number }>(join(run, 'report.json')).pid;
    const profiles = readdirSync(join(run, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).sort();
    assert.ok(profiles.length >= 3, `${profiles.length} profiles`);
    goodProfile = join(run, 'snapshots', profiles[1]!);
    mkdirSync(bad);
    before0 = fingerprint(run);
  });
  after(() => dir.cleanup());

  /** Damaged raw snapshots and pprof files, made from the run's own. */
  function damagedFiles(): Record<string, string> {
    const raw = readFileSync(join(run, 'raw', String(pid), '000001.lhs'));
    const pb = readFileSync(goodProfile);
    const files: Record<string, Buffer> = {
      'truncated.lhs': raw.subarray(0, raw.length >> 1),
      'corrupt.lhs': Buffer.concat([raw.subarray(0, 20), Buffer.from([0xff, 0xff, 0xff, 0xff]), raw.subarray(24)]),
      'version9.lhs': Buffer.concat([raw.subarray(0, 8), Buffer.from([9, 0, 0, 0]), raw.subarray(12)]),
      'truncated.pb.gz': pb.subarray(0, pb.length >> 1),
      'corrupt.pb.gz': Buffer.concat([pb.subarray(0, pb.length >> 1), Buffer.alloc(8), pb.subarray((pb.length >> 1) + 8)]),
      'empty.pb.gz': Buffer.alloc(0),
    };
    // Well-formed gzip and protobuf, broken pprof: a sample pointing at a location that does not exist, a string
    // index out of range, and a CPU profile (no inuse_space).
    const broken = (change: (p: Profile) => void) => {
      const profile = Profile.decode(gunzipSync(pb));
      change(profile);
      return gzipSync(profile.encode());
    };
    files['dangling-location.pb.gz'] = broken((p) => { p.sample[0]!.locationId = [987654321]; });
    files['string-index.pb.gz'] = broken((p) => { p.function[0]!.name = 1_000_000; });
    files['cpu.pb.gz'] = broken((p) => { p.sampleType = p.sampleType.slice(0, 1); p.sampleType[0]!.type = p.stringTable.dedup('cpu'); p.sample.forEach((s) => { s.value = s.value.slice(0, 1); }); });
    const paths: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(files)) {
      paths[name] = join(bad, name);
      writeFileSync(paths[name]!, bytes);
    }
    return paths;
  }

  it('diff: damaged raw snapshots and pprof files, on either side', async () => {
    const files = damagedFiles();
    for (const [name, path] of Object.entries(files)) {
      const escaped = name.replace(/\./g, '\\.');
      assertOneLineError(await runCli(['diff', path, goodProfile]), new RegExp(`${escaped}: `), `diff ${name} good`);
      assertOneLineError(await runCli(['diff', goodProfile, path, '--json']), new RegExp(`${escaped}: `), `diff good ${name}`);
    }
    assert.deepEqual(fingerprint(run), before0, 'nothing in the run directory changed');
  });

  it('report and gate given a damaged file instead of a run directory', async () => {
    const files = damagedFiles();
    for (const name of ['truncated.lhs', 'version9.lhs', 'corrupt.pb.gz']) {
      assertOneLineError(await runCli(['report', files[name]!]), /not a leakhunt run directory/, `report ${name}`);
      const junit = join(dir.path, `${name}.junit.xml`);
      assertOneLineError(await runCli(['gate', files[name]!, '--junit', junit]), new RegExp(name.replace(/\./g, '\\.')), `gate ${name}`);
      assert.ok(!existsSync(junit), 'no JUnit file for a run that could not be read');
    }
    assertOneLineError(await runCli(['report', join(run, 'raw', String(pid))]), /not a leakhunt run directory/, 'report raw/<pid>');
    assert.deepEqual(fingerprint(run), before0, 'nothing in the run directory changed');
  });

  it('a good raw snapshot or a folder of a run, where a profile or the run directory belongs, is named for what it is', async () => {
    const raw = join(run, 'raw', String(pid), '000001.lhs');
    assertOneLineError(await runCli(['diff', raw, goodProfile]), /a raw leakhunt snapshot, not a pprof profile: .*snapshots\//, 'diff raw good');
    const runDirHint = new RegExp(`inside the run directory ${run.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: give that`);
    assertOneLineError(await runCli(['report', raw]), runDirHint, 'report raw snapshot');
    assertOneLineError(await runCli(['report', join(run, 'raw')]), runDirHint, 'report raw/');
    assertOneLineError(await runCli(['gate', raw]), runDirHint, 'gate raw snapshot');
    assert.deepEqual(fingerprint(run), before0, 'nothing in the run directory changed');
  });

  it('report and gate on run directories with damaged run.json, timeline.json or report.json: exit 2, nothing rewritten', async () => {
    const cases: [string, string, (text: string) => string, RegExp][] = [
      ['run.json', 'truncated', (t) => t.slice(0, t.length >> 1), /not a leakhunt run directory/],
      ['run.json', 'a newer schema', (t) => t.replace('"leakhunt.run/v1"', '"leakhunt.run/v2"'), /leakhunt\.run\/v2/],
      ['timeline.json', 'truncated', (t) => t.slice(0, t.length >> 1), /timeline\.json/],
      ['timeline.json', 'not an object', () => '[1, 2, 3]\n', /timeline\.json/],
    ];
    for (const [file, how, damage, pattern] of cases) {
      const copy = join(dir.path, `${file}-${how.replace(/\W+/g, '-')}`);
      cpSync(run, copy, { recursive: true });
      writeFileSync(join(copy, file), damage(readFileSync(join(run, file), 'utf8')));
      const prints = fingerprint(copy);
      assertOneLineError(await runCli(['report', copy, '--write']), pattern, `report --write with ${file} ${how}`);
      assert.deepEqual(fingerprint(copy), prints, `${file} ${how}: report.json not rewritten`);
    }
    const gateCases: [string, (text: string) => string, RegExp][] = [
      ['truncated', (t) => t.slice(0, t.length >> 1), /not JSON/],
      ['a newer schema', (t) => t.replace('"leakhunt.report/v1"', '"leakhunt.report/v2"'), /leakhunt\.report\/v2/],
      ['sites not a list', (t) => JSON.stringify({ ...JSON.parse(t), sites: 'many' }), /sites/],
    ];
    for (const [how, damage, pattern] of gateCases) {
      const copy = join(dir.path, `report-${how.replace(/\W+/g, '-')}`);
      cpSync(run, copy, { recursive: true });
      writeFileSync(join(copy, 'report.json'), damage(readFileSync(join(run, 'report.json'), 'utf8')));
      const prints = fingerprint(copy);
      const junit = join(copy, 'junit.xml');
      assertOneLineError(await runCli(['gate', copy, '--junit', junit]), pattern, `gate with report.json ${how}`);
      assert.deepEqual(fingerprint(copy), prints, `report.json ${how}: nothing rewritten, no JUnit file`);
    }
    assert.deepEqual(fingerprint(run), before0, 'the original run directory is untouched');
  });

  it('report on a run directory with damaged profiles: they are skipped and named (by design), report.json kept', async () => {
    const copy = join(dir.path, 'damaged-profiles');
    cpSync(run, copy, { recursive: true });
    const profile = readdirSync(join(copy, 'snapshots')).sort()[1]!;
    writeFileSync(join(copy, 'snapshots', profile), readFileSync(join(copy, 'snapshots', profile)).subarray(0, 100));
    const prints = fingerprint(copy);
    const result = await runCli(['report', copy, '--json']);
    assert.equal(result.exitCode, 0, result.all);
    assert.equal(result.stderr, '');
    const report = JSON.parse(result.stdout) as ReportJson;
    assert.ok(report.warnings.some((w) => w.includes(`snapshots/${profile}`)), JSON.stringify(report.warnings));
    assert.equal(report.snapshots, Object.keys(prints).filter((p) => p.startsWith('snapshots')).length - 1);
    assert.deepEqual(fingerprint(copy), prints, 'report.json not rewritten without --write');
  });

  it('report: a run.json whose command is not a list is refused in one line', async () => {
    const copy = join(dir.path, 'command-string');
    cpSync(run, copy, { recursive: true });
    const meta = readJson<Record<string, unknown>>(join(copy, 'run.json'));
    writeFileSync(join(copy, 'run.json'), JSON.stringify({ ...meta, command: 'java -jar app.jar' }));
    assertOneLineError(await runCli(['report', copy]), /run\.json/, 'report with a string command');
  });

  it('report: a timeline.json with a null snapshot entry is refused in one line', async () => {
    const copy = join(dir.path, 'timeline-null');
    cpSync(run, copy, { recursive: true });
    const timeline = readJson<{ snapshots: unknown[] }>(join(copy, 'timeline.json'));
    timeline.snapshots[1] = null;
    writeFileSync(join(copy, 'timeline.json'), JSON.stringify(timeline));
    assertOneLineError(await runCli(['report', copy]), /timeline\.json/, 'report with a null timeline entry');
  });
});

describe('hardening: seeded fuzzing of what report, the run\'s processing and the gate read', () => {
  const dir = tempDir('leakhunt-hardening-fuzz-');
  const run = join(dir.path, 'run');
  let pid = 0;
  before(async () => {
    const result = await runCli(['run', '-q', '--out', run, '--interval', '100ms', '--sample-bytes', '1', '--',
      join(fixtureBuild, 'leaky_apis'), '--rounds', '4', '--round-ms', '60']);
    assert.equal(result.exitCode, 0, result.all);
    pid = readJson<ReportJson & { pid: number }>(join(run, 'report.json')).pid;
  });
  after(() => dir.cleanup());

  /** A fresh copy of the run to damage. */
  function workCopy(name: string): string {
    const copy = join(dir.path, name);
    rmSync(copy, { recursive: true, force: true });
    cpSync(run, copy, { recursive: true });
    return copy;
  }

  it('report DIR over 300 damaged profiles (gzip and protobuf level): a report in every format, or exit 2', (t) => {
    const rng = prng(0xfeedface);
    const int = (n: number) => Math.floor(rng() * n);
    const work = workCopy('profiles');
    const names = readdirSync(join(run, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).sort();
    const originals = names.map((f) => readFileSync(join(run, 'snapshots', f)));
    const decoded = originals.map((b) => gunzipSync(b));
    const outcomes = { reported: 0, rejected: 0, skippedProfiles: 0 };
    for (let i = 0; i < 300; i++) {
      names.forEach((f, k) => writeFileSync(join(work, 'snapshots', f), originals[k]!));
      for (let m = 0, n = 1 + int(2); m < n; m++) {
        const k = int(names.length);
        const damaged = int(4) === 0 ? mutateBytes(originals[k]!, int) : gzipSync(mutateBytes(decoded[k]!, int));
        writeFileSync(join(work, 'snapshots', names[k]!), damaged);
      }
      try {
        const report = reanalyseRun(work);
        for (const format of ['text', 'json', 'md'] as const) render(report, format, 10);
        outcomes.reported++;
        outcomes.skippedProfiles += report.warnings.filter((w) => w.startsWith('skipped snapshots/')).length;
      } catch (error) {
        outcomes[classify(error, `iteration ${i}`)]++;
      }
    }
    t.diagnostic(JSON.stringify(outcomes));
    assert.ok(outcomes.skippedProfiles > 100, 'the mutations damaged profiles');
    assert.ok(outcomes.reported > 100, 'most damaged runs are still reported, the damaged profiles skipped');
  });

  it('the run\'s processing of raw/ over 25 damaged raw snapshots: profiles and report.json, or exit 2', async (t) => {
    const rng = prng(0xc0ffee);
    const int = (n: number) => Math.floor(rng() * n);
    const work = workCopy('raw');
    const rawDir = join(work, 'raw', String(pid));
    const names = readdirSync(rawDir).filter((f) => f.endsWith('.lhs')).sort();
    const originals = names.map((f) => readFileSync(join(rawDir, f)));
    const meta = readRunMeta(work);
    const outcomes = { processed: 0, rejected: 0, skippedSnapshots: 0 };
    for (let i = 0; i < 25; i++) {
      names.forEach((f, k) => writeFileSync(join(rawDir, f), originals[k]!));
      const k = int(names.length);
      writeFileSync(join(rawDir, names[k]!), mutateBytes(originals[k]!, int));
      try {
        const { report } = await processRun(work, meta);
        render(report, 'text', 10);
        JSON.parse(readFileSync(join(work, 'report.json'), 'utf8'));
        outcomes.processed++;
        outcomes.skippedSnapshots += report.warnings.filter((w) => w.startsWith('skipped ')).length;
      } catch (error) {
        outcomes[classify(error, `iteration ${i}`)]++;
      }
    }
    t.diagnostic(JSON.stringify(outcomes));
    assert.ok(outcomes.skippedSnapshots > 3, 'the mutations damaged snapshots');
    assert.ok(outcomes.processed > 3);
  });

  it('gate over 300 damaged report.json: a verdict, or exit 2', (t) => {
    const rng = prng(0xbadd00d);
    const int = (n: number) => Math.floor(rng() * n);
    const work = workCopy('gate');
    const text = readFileSync(join(run, 'report.json'), 'utf8');
    const options = resolveGateOptions({ maxLeakRate: 1024 * 1024, maxGrowth: 50 * 1024 * 1024, minConfidence: 0.9 });
    const outcomes = { judged: 0, rejected: 0 };
    for (let i = 0; i < 300; i++) {
      writeFileSync(join(work, 'report.json'), int(8) === 0 ? mutateBytes(Buffer.from(text), int) : mutateJson(text, int));
      try {
        const loaded = loadRunReport(work);
        const verdict = evaluateGate(loaded.report, { ...options, snapshotTimesSec: loaded.snapshotTimesSec, source: loaded.path });
        assert.ok([0, 1, 3].includes(verdict.exitCode), `iteration ${i}: exit ${verdict.exitCode}`);
        outcomes.judged++;
      } catch (error) {
        outcomes[classify(error, `iteration ${i}`)]++;
      }
    }
    t.diagnostic(JSON.stringify(outcomes));
    assert.ok(outcomes.rejected > 50 && outcomes.judged > 20, JSON.stringify(outcomes));
  });

  it('report DIR over 300 damaged run.json and timeline.json: a report, or exit 2', (t) => {
    const rng = prng(0x7e57);
    const int = (n: number) => Math.floor(rng() * n);
    const work = workCopy('json');
    const runJson = readFileSync(join(run, 'run.json'), 'utf8');
    const timeline = readFileSync(join(run, 'timeline.json'), 'utf8');
    const outcomes = { reported: 0, rejected: 0 };
    const failures: string[] = [];
    for (let i = 0; i < 300; i++) {
      const damageRun = int(2) === 0;
      writeFileSync(join(work, 'run.json'), damageRun ? mutateJson(runJson, int) : runJson);
      writeFileSync(join(work, 'timeline.json'), damageRun ? timeline : mutateJson(timeline, int));
      try {
        const report = reanalyseRun(work);
        for (const format of ['text', 'json', 'md'] as const) render(report, format, 10);
        outcomes.reported++;
      } catch (error) {
        try {
          outcomes[classify(error, `iteration ${i} (${damageRun ? 'run.json' : 'timeline.json'})`)]++;
        } catch (failure) {
          failures.push((failure as Error).message.split('\n')[0]!);
        }
      }
    }
    t.diagnostic(JSON.stringify(outcomes));
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of 300 damaged runs were not handled`);
  });
});
