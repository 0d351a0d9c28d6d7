/** The gate's decision on hand-made reports: thresholds, significance, baseline margin, suppressions, detection. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SiteReport, SiteStatus } from '../../src/analyse/index.js';
import { detectableRateBytesPerHour } from '../../src/analyse/detection.js';
import { parseBytes, parseDurationMs } from '../../src/core/units.js';
import { evaluateGate as evaluate, snapshotTimesOf } from '../../src/gate/evaluate.js';
import { parseSuppressions } from '../../src/gate/suppressions.js';
import { DEFAULT_GATE_THRESHOLDS, type GateOptions } from '../../src/gate/types.js';
import { durationFlag, gateVerdict, intervalFlag, sizeFlag } from '../../src/gate/wording.js';
import { REPORT_SCHEMA, type RunReport } from '../../src/pipeline/index.js';

/** The gate's decision with its one-line verdict, as every output words it. */
const evaluateGate = (report: RunReport, options: GateOptions) => {
  const result = evaluate(report, options);
  return { ...result, verdict: gateVerdict(result) };
};

const KiB = 1024;
const MiB = 1024 * KiB;
const HOUR = 3600;
const N = 31;
const STEP = 60; // 31 snapshots a minute apart: 30 minutes

/** A site with a series that grows linearly at `rate` bytes/h (exact: a run that recorded everything). */
function site(fn: string, o: { rate?: number; status?: SiteStatus; confidence?: number; base?: number } = {}): SiteReport {
  const rate = o.rate ?? 0;
  const series = Array.from({ length: N }, (_, i) => (o.base ?? 4096) + (rate * i * STEP) / HOUR);
  return {
    rank: 0, function: fn, location: `${fn} (app.c:${fn.length})`, stack: [`malloc (libc.so.6)`, `${fn} (app.c:${fn.length})`, 'main (app.c:1)'],
    status: o.status ?? (rate > 0 ? 'growing' : 'stable'), shape: rate > 0 ? 'linear' : 'noise',
    leakRateBytesPerHour: rate, leakRateIntervalBytesPerHour: [rate * 0.9, rate * 1.1],
    growthBytes: series[N - 1]! - series[0]!, liveBytes: series[N - 1]!, confidence: o.confidence ?? (rate > 0 ? 1 : 0.3), series,
  } as SiteReport;
}

function report(sites: SiteReport[], o: Partial<RunReport> & { sampleBytes?: number; rss?: [number, number] } = {}): RunReport {
  const start = sites.reduce((sum, s) => sum + s.series[0]!, 0);
  const end = sites.reduce((sum, s) => sum + s.series[N - 1]!, 0);
  const rss = o.rss ?? [50 * MiB, 50 * MiB];
  return {
    schema: REPORT_SCHEMA, command: ['./app'], pid: 42, exitStatus: 0,
    durationSec: (N - 1) * STEP + STEP, sampleBytes: o.sampleBytes ?? 1, snapshotIntervalMs: STEP * 1000, snapshots: N,
    verdict: { kind: 'no-growth', summary: '' },
    memory: {
      rssGrowthBytesPerHour: ((rss[1] - rss[0]) * HOUR) / ((N - 1) * STEP), liveGrowthBytesPerHour: 0,
      rssStartBytes: rss[0], rssEndBytes: rss[1], liveStartBytes: start, liveEndBytes: end,
    },
    shim: null, warnings: [], sites: sites.map((s, i) => ({ ...s, rank: i + 1 })),
    ...o,
  } as RunReport;
}

function options(o: Partial<GateOptions> = {}): GateOptions {
  return { ...DEFAULT_GATE_THRESHOLDS, ...o };
}

describe('evaluateGate: sites', () => {
  test('a growing site over the threshold fails (exit 1), named in the one-line verdict', () => {
    const result = evaluateGate(report([site('leak_fast', { rate: 20 * MiB }), site('steady')]), options());
    assert.equal(result.outcome, 'fail');
    assert.equal(result.exitCode, 1);
    assert.deepEqual(result.failing.map((s) => s.function), ['leak_fast']);
    assert.match(result.verdict, /^FAIL: 1 site leaks over 1\.00 MiB\/h: leak_fast at 20\.0 MiB\/h \(confidence 1\.00\)/);
    assert.ok(!result.verdict.includes('\n'));
  });

  test('never fails on a site that is not significant, not growing, or under the threshold', () => {
    const sites = [
      site('below', { rate: 0.5 * MiB }),
      site('unsure', { rate: 50 * MiB, confidence: 0.6 }),
      site('saturating', { rate: 50 * MiB, status: 'stable' }),
      site('new_site', { rate: 50 * MiB, status: 'new' }),
    ];
    const result = evaluateGate(report(sites), options({ maxGrowthBytes: 1e12 }));
    assert.equal(result.outcome, 'pass', result.verdict);
    assert.equal(result.exitCode, 0);
    assert.match(result.verdict, /^PASS: no site leaks over 1\.00 MiB\/h \(this run shows leaks from /);
  });

  test('--min-confidence above the ranking\'s own level drops the less sure sites', () => {
    const sites = [site('sure', { rate: 9 * MiB, confidence: 0.999 }), site('fairly', { rate: 9 * MiB, confidence: 0.95 })];
    assert.equal(evaluateGate(report(sites), options()).failing.length, 2);
    assert.deepEqual(evaluateGate(report(sites), options({ minConfidence: 0.99 })).failing.map((s) => s.function), ['sure']);
  });

  test('lists at most three sites in the verdict, fastest first', () => {
    const sites = [1, 5, 3, 4, 2].map((k) => site(`leak${k}`, { rate: k * 10 * MiB }));
    const result = evaluateGate(report(sites), options({ maxGrowthBytes: 1e12 }));
    assert.match(result.verdict, /^FAIL: 5 sites leak over 1\.00 MiB\/h: leak5 at 50\.0 MiB\/h \(confidence 1\.00\), leak4 .*, leak3 .*, and 2 more$/);
  });
});

describe('evaluateGate: baseline', () => {
  const baseline = report([site('known', { rate: 10 * MiB }), site('quiet', { rate: 0.1 * MiB, status: 'stable' })]);

  test('a known site passes up to max(2× its baseline rate, baseline + threshold)', () => {
    for (const [rate, outcome] of [[10, 'pass'], [19.9, 'pass'], [20.1, 'fail']] as const) {
      const result = evaluateGate(report([site('known', { rate: rate * MiB })]), options({ baseline: { source: 'b', report: baseline } }));
      assert.equal(result.outcome, outcome, `${rate} MiB/h: ${result.verdict}`);
    }
    const slow = report([site('known', { rate: 0.5 * MiB })]);
    const allowed = evaluateGate(report([site('known', { rate: 1.4 * MiB })]), options({ baseline: { source: 'b', report: slow } }));
    assert.equal(allowed.outcome, 'pass');
    assert.equal(allowed.baselined[0]!.allowedRateBytesPerHour, 1.5 * MiB);
    assert.match(allowed.verdict, /1 site within the baseline/);
  });

  test('a new site, or one the baseline did not call growing, fails', () => {
    const result = evaluateGate(report([site('known', { rate: 10 * MiB }), site('fresh', { rate: 2 * MiB }), site('quiet', { rate: 3 * MiB })]),
      options({ baseline: { source: 'b', report: baseline } }));
    assert.deepEqual(result.failing.map((s) => s.function).sort(), ['fresh', 'quiet']);
    assert.deepEqual(result.baselined.map((b) => b.site.function), ['known']);
  });

  test('a run gated against itself passes', () => {
    const run = report([site('a', { rate: 10 * MiB }), site('b', { rate: 300 * MiB })]);
    const result = evaluateGate(run, options({ baseline: { source: 'self', report: run } }));
    assert.equal(result.outcome, 'pass', result.verdict);
    assert.equal(result.baselined.length, 2);
  });
});

describe('evaluateGate: suppressions', () => {
  test('a suppressed site does not fail; the result says which rule and why; unused rules are listed', () => {
    const suppressions = parseSuppressions('leak:^leak_a$  # known, JIRA-1\nleak:^nothing$  # stale', 'k.supp');
    const result = evaluateGate(report([site('leak_a', { rate: 9 * MiB }), site('leak_b', { rate: 8 * MiB })]), options({ suppressions }));
    assert.deepEqual(result.failing.map((s) => s.function), ['leak_b']);
    assert.equal(result.suppressed.length, 1);
    assert.equal(result.suppressed[0]!.site.function, 'leak_a');
    assert.equal(result.suppressed[0]!.rule.reason, 'known, JIRA-1');
    assert.deepEqual(result.unusedSuppressions.map((r) => r.line), [2]);
    assert.match(result.verdict, /; 1 suppressed$/);
    const all = evaluateGate(report([site('leak_a', { rate: 9 * MiB })]), options({ suppressions }));
    assert.equal(all.outcome, 'pass', all.verdict);
  });

  test('suppressed growth is left out of the live-growth total', () => {
    const big = site('cache_leak', { rate: 200 * MiB }); // 100 MiB over the 30 minutes
    const run = report([big, site('small', { rate: 2 * MiB, status: 'stable' })]);
    assert.equal(evaluateGate(run, options({ maxLeakRateBytesPerHour: 1e12 })).liveGrowth.exceeded, true);
    const result = evaluateGate(run, options({ maxLeakRateBytesPerHour: 1e12, suppressions: parseSuppressions('leak:cache_leak  # known', 's') }));
    assert.equal(result.liveGrowth.exceeded, false);
    assert.ok(Math.abs(result.liveGrowth.bytes - 1 * MiB) < 1);
  });
});

describe('evaluateGate: memory totals', () => {
  test('live growth over --max-growth fails when significant, not when it is noise', () => {
    const grow = report([site('a', { rate: 40 * MiB, status: 'stable' }), site('b', { rate: 80 * MiB, status: 'stable' })]); // 60 MiB in 30 min
    const result = evaluateGate(grow, options({ maxLeakRateBytesPerHour: 1e12 }));
    assert.equal(result.outcome, 'fail');
    assert.match(result.verdict, /^FAIL: live malloc grew 60\.0 MiB over 31\.0min, over the 50\.0 MiB limit/);
    // The same end points, but a flat series with one jump at the end and heavy sampling noise: not significant.
    const flat = site('flat', { status: 'stable' });
    flat.series = flat.series.map((v, i) => (i === N - 1 ? v + 60 * MiB : v + (i % 2) * 30 * MiB));
    const noisy = report([flat], { sampleBytes: 16 * MiB });
    const noise = evaluateGate(noisy, options({ maxLeakRateBytesPerHour: 1e12 }));
    assert.equal(noise.liveGrowth.significant, false);
    assert.equal(noise.liveGrowth.exceeded, false);
  });

  test('RSS is gated only when asked', () => {
    const run = report([site('s')], { rss: [100 * MiB, 400 * MiB] });
    assert.equal(evaluateGate(run, options()).outcome, 'pass');
    const gated = evaluateGate(run, options({ maxRssGrowthBytes: 256 * MiB }));
    assert.equal(gated.outcome, 'fail');
    assert.match(gated.verdict, /RSS grew 300 MiB, over the 256 MiB limit/);
    const base = report([site('s')], { rss: [100 * MiB, 200 * MiB] });
    assert.equal(evaluateGate(run, options({ maxRssGrowthBytes: 256 * MiB, baseline: { source: 'b', report: base } })).outcome, 'pass', 'limit + the baseline\'s own growth');
  });
});

describe('evaluateGate: not enough data', () => {
  test('fewer than three snapshots: exit 3, and what to change', () => {
    const one = report([], { snapshots: 1, durationSec: 1, snapshotIntervalMs: 10_000, sampleBytes: 512 * KiB });
    const result = evaluateGate(one, options());
    assert.equal(result.outcome, 'not-enough-data');
    assert.equal(result.exitCode, 3);
    assert.match(result.verdict, /^NOT ENOUGH DATA: no site leaks over 1\.00 MiB\/h, but 1 snapshot in 1\.0s cannot show a trend \(at least 3 are needed\): run at least \S+ \(--duration \S+\)/);
  });

  test('a threshold below what the run could detect: exit 3, naming the duration and --sample-bytes that would', () => {
    const run = report([site('s')], { sampleBytes: 512 * KiB });
    const detectable = detectableRateBytesPerHour({ durationSec: (N - 1) * STEP, snapshots: N, sampleIntervalBytes: 512 * KiB });
    const result = evaluateGate(run, options({ maxLeakRateBytesPerHour: detectable / 2 }));
    assert.equal(result.outcome, 'not-enough-data', result.verdict);
    assert.ok(Math.abs(result.detection.rateBytesPerHour - detectable) < 1e-6 * detectable);
    const duration = /--duration (\S+)\)/.exec(result.verdict)?.[1];
    const sample = /use --sample-bytes (\S+) for a run this long/.exec(result.verdict)?.[1];
    assert.ok(duration && sample, result.verdict);
    const seconds = parseDurationMs(duration) / 1000 - STEP;
    assert.ok(detectableRateBytesPerHour({ durationSec: seconds, snapshots: Math.floor(seconds / STEP) + 1, sampleIntervalBytes: 512 * KiB }) <= detectable / 2);
    assert.ok(detectableRateBytesPerHour({ durationSec: (N - 1) * STEP, snapshots: N, sampleIntervalBytes: parseBytes(sample) }) <= detectable / 2);
    assert.equal(evaluateGate(run, options({ maxLeakRateBytesPerHour: detectable * 1.01 })).outcome, 'pass');
  });

  test('a leak over the threshold fails even when the threshold itself was not detectable', () => {
    const run = report([site('leak', { rate: 500 * MiB })], { sampleBytes: 512 * KiB });
    const result = evaluateGate(run, options({ maxLeakRateBytesPerHour: 1 * KiB }));
    assert.equal(result.outcome, 'fail');
    assert.equal(result.detection.enough, false);
    assert.deepEqual(result.detection.advice, []);
  });

  test('the sampling interval in force is the shim\'s final one (it doubles when its table fills)', () => {
    const run = report([site('s')], { sampleBytes: 64 * KiB });
    run.shim = { finalSampleIntervalBytes: 4 * MiB } as RunReport['shim'];
    assert.equal(evaluateGate(run, options()).run.sampleIntervalBytes, 4 * MiB);
  });
});

describe('gate helpers', () => {
  test('snapshot times: timeline.json\'s when they fit, else evenly spaced over the duration less one interval', () => {
    const run = report([site('s')]);
    const times = snapshotTimesOf(run);
    assert.equal(times.length, N);
    assert.equal(times[N - 1], (N - 1) * STEP);
    assert.deepEqual(snapshotTimesOf(run, Array.from({ length: N }, (_, i) => 5 + i * i)).slice(0, 3), [0, 1, 4]);
    assert.deepEqual(snapshotTimesOf({ ...run, snapshots: 1 }), [0]);
    const short = snapshotTimesOf({ ...run, snapshots: 7, durationSec: 1.225, snapshotIntervalMs: 200 });
    assert.ok(Math.abs(short[6]! - 1.025) < 1e-9);
  });

  test('suggested flags parse back', () => {
    for (const sec of [0.2, 7.5, 119, 121, 3599, 7201, 86400 * 3]) {
      const flag = durationFlag(sec);
      assert.ok(parseDurationMs(flag) / 1000 >= sec, `${sec} → ${flag}`);
      assert.ok(parseDurationMs(flag) / 1000 <= sec + (sec < 120 ? 1 : 60), `${sec} → ${flag} rounds up a little`);
    }
    assert.equal(durationFlag(3 * 3600 + 60), '3h1m');
    for (const bytes of [1, 256, 4096, 512 * KiB, 2 * MiB]) assert.equal(parseBytes(sizeFlag(bytes)), bytes);
    assert.equal(sizeFlag(4096), '4KiB');
    assert.equal(intervalFlag(0.3), '300ms');
    assert.equal(intervalFlag(10), '10s');
  });
});
