/**
 * Sites of mapped memory: a function's mappings are a site apart from its malloc blocks (ranking, diff), the live
 * malloc timeline counts malloc only, and every report marks an mmap site as such.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { diffProfiles } from '../../src/analyse/diff.js';
import { rankSeries } from '../../src/analyse/rank.js';
import { siteKindTag } from '../../src/analyse/sites.js';
import { timelinePointOf } from '../../src/analyse/timeline.js';
import type { SiteReport } from '../../src/analyse/types.js';
import { evaluateGate } from '../../src/gate/evaluate.js';
import { renderJunit } from '../../src/gate/junit.js';
import { renderMarkdown as renderGateMarkdown } from '../../src/gate/markdown.js';
import { gateVerdict } from '../../src/gate/wording.js';
import { REPORT_SCHEMA, type RunReport } from '../../src/pipeline/model.js';
import type { HeapProfile } from '../../src/pprof/read.js';
import type { ProfileSeries } from '../../src/pprof/series.js';
import { renderRunHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderText } from '../../src/report/text.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';

const MiB = 1024 * 1024;
const frames = (name: string) => [{ functionName: 'mmap' }, { functionName: name, fileName: '/src/app.c', line: 7 }];

/** keep_buffers mallocs a steady amount and maps a growing one; scratch churns malloc. */
function series(): ProfileSeries {
  const times = Array.from({ length: 12 }, (_, i) => i * 10);
  return {
    stacks: [frames('keep_buffers'), frames('keep_buffers'), frames('scratch')],
    stackKinds: ['malloc', 'mmap-anon', 'malloc'],
    points: times.map((timeSec, i) => ({
      timeSec, stackOf: [0, 1, 2], inuse: [4 * MiB, (i + 1) * 8 * MiB, (i % 2 ? 3 : 2) * MiB],
      oldestAgeMs: [timeSec * 1000, timeSec * 1000, 100], meanAgeMs: [timeSec * 500, timeSec * 500, 50],
    })),
  };
}

describe('site kinds in the analysis', () => {
  test('the same function mapping memory and calling malloc is two sites, each of its kind', () => {
    const sites = rankSeries(series(), { sampleIntervalBytes: 65536 });
    const keep = sites.filter((s) => s.function === 'keep_buffers');
    assert.deepEqual(keep.map((s) => [s.kind, s.status]), [['mmap-anon', 'growing'], ['malloc', 'stable']]);
    assert.equal(sites.find((s) => s.function === 'scratch')?.kind, 'malloc');
    assert.ok(Math.abs(keep[0]!.leakRateBytesPerHour - 8 * MiB * 360) < 0.01 * 8 * MiB * 360);
  });

  test('a series without kinds (profiles that are not leakhunt\'s, or older): every site malloc', () => {
    const { stackKinds: _, ...plain } = series();
    const sites = rankSeries(plain, { sampleIntervalBytes: 65536 });
    assert.ok(sites.every((s) => s.kind === 'malloc'));
    assert.equal(sites.filter((s) => s.function === 'keep_buffers').length, 1);
  });

  test('diff: mapped memory of a function is a site apart', () => {
    const profile = (mapped: number): HeapProfile => ({
      sampleTypes: [{ type: 'inuse_space', unit: 'bytes' }], timeNanos: 0n, durationNanos: 0n,
      samples: [
        { stack: frames('keep_buffers'), values: [MiB], labels: {} },
        { stack: frames('keep_buffers'), values: [mapped], labels: { kind: 'mmap', mapping: 'file' } },
      ],
    });
    const diff = diffProfiles(profile(MiB), profile(9 * MiB));
    assert.deepEqual(diff.sites.map((s) => [s.function, s.kind, s.deltaBytes]), [['keep_buffers', 'mmap-file', 8 * MiB], ['keep_buffers', 'malloc', 0]]);
  });

  test('the timeline\'s live malloc is malloc\'s; mappings have figures of their own', () => {
    const site = (stackId: number, kind: 'malloc' | 'mmap-anon' | 'mmap-file', liveBytes: number) => ({
      stackId, kind, liveSamples: 1, liveSampledBytes: 1, liveObjects: 1, liveBytes, allocSamples: 1, allocObjects: 1,
      allocBytes: liveBytes, oldestLiveMs: 0, newestLiveMs: 0, meanLiveMs: 0,
    });
    const point = timelinePointOf(rawSnapshot({ sites: [site(1, 'malloc', 3 * MiB), site(2, 'mmap-anon', 5 * MiB), site(3, 'mmap-file', 7 * MiB)] }), 0);
    assert.deepEqual([point.liveBytes, point.liveMmapAnonBytes, point.liveMmapFileBytes], [3 * MiB, 5 * MiB, 7 * MiB]);
  });
});

function report(sites: SiteReport[]): RunReport {
  return {
    schema: REPORT_SCHEMA, detection: { detectableRateBytesPerHour: MiB }, command: ['app'], pid: 1, exitStatus: 0, durationSec: 120,
    sampleBytes: 65536, snapshotIntervalMs: 10000, snapshots: 12,
    verdict: { kind: 'native-leak', summary: 'native memory leaks' },
    memory: { rssGrowthBytesPerHour: 0, liveGrowthBytesPerHour: 0, rssStartBytes: 0, rssEndBytes: 0, liveStartBytes: 0, liveEndBytes: 0 },
    shim: null, warnings: [], sites,
  };
}

describe('site kinds in the reports', () => {
  const mapped: SiteReport = {
    rank: 1, function: 'keep_buffers', location: 'keep_buffers (app.c:7)', kind: 'mmap-anon', stack: ['keep_buffers (app.c:7)'],
    status: 'growing', shape: 'linear', leakRateBytesPerHour: 512 * MiB, leakRateIntervalBytesPerHour: [500 * MiB, 520 * MiB],
    growthBytes: 96 * MiB, liveBytes: 96 * MiB, confidence: 1, series: [8 * MiB, 96 * MiB],
  };
  const file: SiteReport = { ...mapped, rank: 2, function: 'map_request', location: 'map_request (app.c:9)', kind: 'mmap-file' };
  const malloc: SiteReport = { ...mapped, rank: 3, kind: 'malloc', status: 'stable', leakRateBytesPerHour: 0, confidence: 0.1 };

  test('the tag', () => {
    assert.deepEqual([siteKindTag('malloc'), siteKindTag(undefined), siteKindTag('mmap-anon'), siteKindTag('mmap-file')], ['', '', ' [mmap]', ' [mmap file]']);
  });

  test('text, Markdown and HTML mark mmap sites, and only them', () => {
    const r = report([mapped, file, malloc]);
    const text = renderText(r);
    assert.match(text, /keep_buffers \(app\.c:7\) \[mmap\]\n/);
    assert.match(text, /map_request \(app\.c:9\) \[mmap file\]\n/);
    assert.match(text, /#1 keep_buffers \[mmap\] — stack/);
    assert.match(text, / 3 stable .* keep_buffers \(app\.c:7\)\n/);
    const md = renderMarkdown(r);
    assert.match(md, /`keep_buffers \(app\.c:7\)` \\\[mmap\\\]/);
    assert.match(md, /#1 keep_buffers \[mmap\]: stack/);
    const html = renderRunHtml('/nonexistent', r);
    assert.match(html, /keep_buffers <span class="kind"[^>]*>\[mmap\]<\/span>/);
    assert.equal(html.match(/class="kind"/g)?.length, 2);
  });

  test('the gate names them so: verdict line, JUnit, Markdown', () => {
    const result = evaluateGate(report([mapped, malloc]), {
      maxLeakRateBytesPerHour: MiB, maxGrowthBytes: 50 * MiB, minConfidence: 0.9,
    });
    assert.match(gateVerdict(result), /FAIL: .*keep_buffers \[mmap\] at/);
    assert.match(renderJunit(result), /name="keep_buffers \(app\.c:7\) \[mmap\]"/);
    assert.match(renderGateMarkdown(result), /keep\\_buffers \(app\.c:7\) \\\[mmap\\\]/);
  });

  test('a baseline matches a site by function and kind', () => {
    const baseline = report([{ ...mapped, kind: 'malloc' }]);
    const result = evaluateGate(report([mapped]), {
      maxLeakRateBytesPerHour: MiB, maxGrowthBytes: 50 * MiB, minConfidence: 0.9, baseline: { report: baseline, source: 'base' },
    });
    assert.equal(result.failing.length, 1, 'the malloc site of the baseline does not excuse the mapped memory');
  });
});
