import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { SiteReport } from '../../src/analyse/types.js';
import type { HeapProfile } from '../../src/pprof/index.js';
import { renderHtml } from '../../src/report/html.js';
import { escapeHtml, jsonForScript } from '../../src/report/html/escape.js';
import { aggregateProfile, buildFlameData, evenlySpaced } from '../../src/report/html/flame-data.js';
import { byteTicks, renderTimelineChart, timeTicks } from '../../src/report/html/timeline-chart.js';
import { REPORT_SCHEMA, type RunReport } from '../../src/pipeline/model.js';
import { startStatusLine, statusText } from '../../src/report/status.js';
import { renderText, sparkline } from '../../src/report/text.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const templated = 'std::map<int, std::vector<char>>::operator[]';
const hostile = '<script>alert(1)</script>';

function site(rank: number, fields: Partial<SiteReport> & Pick<SiteReport, 'function' | 'location' | 'status'>): SiteReport {
  return {
    rank, stack: [fields.location], shape: 'noise', leakRateBytesPerHour: 0, leakRateIntervalBytesPerHour: [0, 0],
    growthBytes: 0, liveBytes: 0, confidence: 0.5, series: [], ...fields,
  };
}

function report(): RunReport {
  return {
    schema: REPORT_SCHEMA, command: ['./app', '--name', '<b>&amp;</b>'], pid: 42, exitStatus: 0, durationSec: 30,
    sampleBytes: 512 * KiB, snapshotIntervalMs: 1000, snapshots: 4,
    verdict: { kind: 'native-leak', summary: `native memory leaks: the top one, ${hostile}, at 2.00 GiB/h` },
    detection: { detectableRateBytesPerHour: 1.5 * MiB },
    memory: { rssGrowthBytesPerHour: MiB, liveGrowthBytesPerHour: MiB, rssStartBytes: 40 * MiB, rssEndBytes: 61 * MiB, liveStartBytes: 3 * MiB, liveEndBytes: 20 * MiB },
    shim: null,
    warnings: [`a warning about ${hostile}`],
    sites: [
      site(1, {
        function: hostile, location: `${hostile} (evil.c:1)`, status: 'growing', growthBytes: 16 * MiB, liveBytes: 19 * MiB,
        confidence: 1, series: [3 * MiB, 8 * MiB, 14 * MiB, 19 * MiB], stack: ['malloc (libc.so.6)', `${hostile} (evil.c:1)`, 'main (main.c:9)'],
      }),
      site(2, {
        function: templated, location: `${templated} (stl_map.h:511)`, status: 'new', growthBytes: MiB, liveBytes: MiB,
        series: [0, 0, MiB, MiB], stack: ['operator new(unsigned long) (libstdc++.so.6)', `${templated} (stl_map.h:511)`],
      }),
      site(3, { function: 'steady', location: 'steady (s.c:3)', status: 'stable', liveBytes: 5 * MiB, series: [5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB] }),
    ],
  };
}

const timeline = [0, 1, 2, 3].map((i) => ({
  sequence: i, timeSec: 1 + i * 10, rssBytes: (40 + 7 * i) * MiB, liveBytes: (3 + 5.6 * i) * MiB, mallocFreeBytes: MiB,
}));

function profile(stacks: [string[], number][]): HeapProfile {
  return {
    sampleTypes: [{ type: 'inuse_objects', unit: 'count' }, { type: 'inuse_space', unit: 'bytes' }],
    timeNanos: 0n, durationNanos: 0n,
    samples: stacks.map(([names, bytes]) => ({ stack: names.map((functionName) => ({ functionName })), values: [1, bytes], labels: {} })),
  };
}

function flame() {
  return buildFlameData([
    aggregateProfile(0, 1, profile([[['malloc', hostile, 'main'], MiB], [['malloc', templated, 'main'], 0]])),
    aggregateProfile(3, 31, profile([[['malloc', hostile, 'main'], 17 * MiB], [['malloc', templated, 'main'], MiB]])),
  ]);
}

/** The JSON the page embeds for its script. */
function embeddedData(html: string): { flame: { frames: string[] } | null; timeline: unknown } {
  const m = /<script type="application\/json" id="leakhunt-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the page embeds its data');
  return JSON.parse(m[1]!) as { flame: { frames: string[] } | null; timeline: unknown };
}

describe('renderHtml', () => {
  const html = renderHtml({ report: report(), timeline, growth: flame() });

  test('an attached run says since when it was tracked', () => {
    const page = renderHtml({ report: { ...report(), trackingSince: '2026-12-04T10:00:00.000Z' }, timeline });
    assert.match(page, /Attached: tracking since 2026-12-04T10:00:00\.000Z \(attached to a running process/);
    assert.doesNotMatch(renderHtml({ report: report(), timeline }), /tracking since/);
  });

  test('is one self-contained page: no external scripts, styles, images or fonts', () => {
    assert.match(html, /^<!DOCTYPE html>/);
    assert.doesNotMatch(html, /\b(src|href|xlink:href|action)\s*=\s*["']?\s*(https?:)?\/\//i, 'no remote src/href');
    assert.doesNotMatch(html, /<script[^>]*\bsrc\s*=/i, 'no external script');
    assert.doesNotMatch(html, /<link\b/i, 'no linked stylesheet or font');
    assert.doesNotMatch(html, /@import|@font-face|url\(/i, 'no CSS that fetches');
    assert.equal(html.match(/<script\b/g)?.length, 2, 'the data block and the inline script only');
    assert.equal(html.match(/<\/script>/g)?.length, 2);
  });

  test('escapes function names, the command, the verdict and warnings', () => {
    assert.ok(!html.includes(hostile), 'the raw <script> never appears');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'it is shown escaped');
    assert.ok(!html.includes('<b>&amp;</b>'), 'the command is escaped');
    assert.ok(html.includes('&lt;b&gt;&amp;amp;&lt;/b&gt;'));
    // The template-heavy name: abbreviated in the row, whole in its stack and tooltip, escaped everywhere.
    assert.ok(!html.includes('std::map<int'), 'no raw template brackets');
    assert.ok(html.includes('std::map&lt;int, std::vector&lt;char&gt;&gt;::operator[] (stl_map.h:511)'));
    assert.ok(html.includes('std::map&lt;…&gt;::operator[]'));
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no inline event handlers');
  });

  test('the embedded data round-trips the names exactly', () => {
    const data = embeddedData(html);
    assert.ok(data.flame!.frames.includes(hostile));
    assert.ok(data.flame!.frames.includes(templated));
    assert.ok(data.timeline);
  });

  test('verdict first, the sites in rank order with sparklines and stacks', () => {
    const verdict = html.indexOf('class="verdict verdict-native-leak"');
    assert.ok(verdict > 0 && verdict < html.indexOf('id="timeline"'));
    const rows = [...html.matchAll(/<details class="site status-(\w+)">/g)].map((m) => m[1]);
    assert.deepEqual(rows, ['growing', 'new', 'stable']);
    assert.equal(html.match(/<svg class="spark"/g)?.length, 3);
    // In an open stack, the site's own frame is the bold one, not the allocator it called.
    assert.match(html, /<ol><li>malloc \(libc\.so\.6\)<\/li><li class="site-frame"[^>]*>[^<]*alert\(1\)[^<]* \(evil\.c:1\)<\/li><li>main \(main\.c:9\)<\/li><\/ol>/);
    assert.match(html, /<ol><li>operator new\(unsigned long\) \(libstdc\+\+\.so\.6\)<\/li><li class="site-frame" title="[^"]*">std::map&lt;…&gt;::operator\[\] \(stl_map\.h:511\)<\/li><\/ol>/);
    assert.match(html, /\.stack li\.site-frame \{ font-weight: 700; \}/);
  });

  test('the flame graph can show what shrank, and its header explains the net change', () => {
    assert.match(html, /<select id="flame-mode"><option value="grew" selected>what grew<\/option><option value="shrank">what shrank<\/option><\/select>/);
    assert.match(html, /The net change in use is what grew\s+less what shrank/);
    assert.match(html, /the stacks that grew added/);
    assert.match(html, /those that shrank gave back/);
  });

  test('child processes (--follow-children) are listed, escaped', () => {
    const parent = {
      ...report(),
      processes: [{
        pid: 77, executable: `/bin/${hostile}`, snapshots: 3, verdict: { kind: 'no-growth' as const, summary: 'nothing grows' },
        report: 'processes/77/report.json', sites: [],
      }],
    };
    const page = renderHtml({ report: parent, timeline });
    assert.match(page, /<section class="card" id="processes">/);
    assert.ok(page.includes('/bin/&lt;script&gt;alert(1)&lt;/script&gt;</code> (pid 77, 3 snapshots): nothing grows'));
    assert.ok(!page.includes(hostile));
    assert.doesNotMatch(html, /id="processes"/, 'no section without children');
  });

  test('where the RSS went: a table of the parts, RSS last as their sum, and the trim probe', () => {
    const accounted = report();
    accounted.memory = {
      ...accounted.memory, allocator: 'glibc', accountingWindow: { fromSec: 2, toSec: 30, snapshots: 28 },
      accounting: [
        { part: 'live-malloc', startBytes: 3 * MiB, endBytes: 20 * MiB, growthBytes: 17 * MiB, growthBytesPerHour: 2 * MiB },
        { part: 'allocator-retained', startBytes: MiB, endBytes: 2 * MiB, growthBytes: MiB, growthBytesPerHour: MiB },
      ],
      trimProbe: { timeSec: 27, releasedBytes: MiB, rssBeforeBytes: 61 * MiB, rssAfterBytes: 60 * MiB },
    };
    const page = renderHtml({ report: accounted, timeline });
    const section = page.slice(page.indexOf('<section class="card" id="accounting">'), page.indexOf('id="sites"'));
    const rows = [...section.matchAll(/<tr(?: class="total")?><td>([^<]+)<\/td>/g)].map((m) => m[1]);
    assert.deepEqual(rows, ['live malloc', 'allocator-retained', 'RSS']);
    assert.match(section, /<tr class="total"><td>RSS<\/td><td class="num">4\.00 MiB<\/td><td class="num">22\.0 MiB<\/td><td class="num">\+18\.0 MiB<\/td>/);
    assert.match(section, /Trim probe at 27\.0 s: malloc_trim\(0\) gave back 1\.00 MiB/);
    assert.ok(page.indexOf('id="timeline"') < page.indexOf('id="accounting"'), 'under the memory timeline');
    assert.doesNotMatch(html, /id="accounting"/, 'no section without accounting');
  });

  test('a run whose middle retention thinned says how many snapshots were written', () => {
    const page = renderHtml({ report: { ...report(), snapshots: 21, snapshotsWritten: 80 }, timeline });
    assert.match(page, /21 snapshots \(of 80 written; retention thinned the middle\)/);
    assert.doesNotMatch(html, /written; retention/);
  });

  test('an empty run renders, and says there is nothing to show', () => {
    const empty = { ...report(), sites: [], snapshots: 0 };
    const page = renderHtml({ report: empty, timeline: [] });
    assert.match(page, /no snapshots, so there is no memory timeline/);
    assert.match(page, /No sampled live allocations/);
    assert.equal(embeddedData(page).flame, null);
  });
});

describe('timeline chart', () => {
  test('draws the series the timeline has, and only those', () => {
    const chart = renderTimelineChart(timeline);
    assert.deepEqual(chart.data!.series.map((s) => s.label), ['RSS', 'live malloc', 'allocator-retained']);
    assert.equal(chart.svg.match(/<path class="line/g)?.length, 3);
    // With resident memory by mapping: the accounting's parts, the Java heap's resident pages (not its used bytes).
    const parts = { 'live-malloc': MiB, 'java-heap': 64 * MiB, 'thread-stacks': 0 };
    const java = renderTimelineChart(timeline.map((p) => ({
      ...p, javaHeapUsedBytes: 12 * MiB, resident: { parts, totalBytes: 65 * MiB, files: [], threadStacks: 0, readCostMs: 0 },
    })), 1.5);
    assert.deepEqual(java.data!.series.map((s) => s.label), ['RSS', 'live malloc', 'Java heap']);
    assert.deepEqual(java.data!.series[2]!.values, timeline.map(() => 64 * MiB));
    assert.match(java.svg, /<g class="startup"><rect [^>]*><title>start-up: left out of every rate<\/title>/);
    assert.doesNotMatch(chart.svg, /class="startup"/);
    const sparse = renderTimelineChart([{ sequence: 0, timeSec: 1, rssBytes: MiB }, { sequence: 1, timeSec: 2 }, { sequence: 2, timeSec: 3, rssBytes: 2 * MiB }]);
    assert.deepEqual(sparse.data!.series.map((s) => s.label), ['RSS']);
    assert.deepEqual(sparse.data!.series[0]!.values, [MiB, null, 2 * MiB]);
  });

  test('axes: binary byte units, seconds / minutes / hours', () => {
    assert.deepEqual(byteTicks(7.5 * MiB).ticks.map(([, label]) => label), ['0 MiB', '2 MiB', '4 MiB', '6 MiB', '8 MiB']);
    assert.equal(byteTicks(900).ticks.at(-1)![1], '1000 B');
    assert.deepEqual(timeTicks(0, 1.2).map(([, l]) => l), ['0.0 s', '0.2 s', '0.4 s', '0.6 s', '0.8 s', '1.0 s', '1.2 s']);
    assert.deepEqual(timeTicks(0, 600).map(([, l]) => l), ['0 min', '2 min', '4 min', '6 min', '8 min', '10 min']);
    assert.equal(timeTicks(0, 6 * 3600).at(-1)![1], '6 h');
  });
});

describe('flame data', () => {
  test('stacks root first, bytes per snapshot', () => {
    const data = flame();
    assert.equal(data.snapshots.length, 2);
    const stack = data.stacks.find((s) => data.frames[s[1]!] === hostile)!;
    assert.deepEqual(stack.map((i) => data.frames[i]), ['main', hostile, 'malloc']);
    const index = data.stacks.indexOf(stack);
    assert.deepEqual(data.snapshots.map((s) => s.stacks.find(([i]) => i === index)?.[1]), [MiB, 17 * MiB]);
  });

  test('bounded: the heaviest stacks of each snapshot, evenly spaced snapshots', () => {
    const many = Array.from({ length: 50 }, (_, k) => aggregateProfile(k, k, profile(
      Array.from({ length: 400 }, (_, i) => [[`f${i}`, 'main'], (i + 1) * (k + 1)] as [string[], number]),
    )));
    const data = buildFlameData(many, { maxSnapshots: 10 });
    assert.equal(data.snapshots.length, 10);
    assert.equal(data.snapshots[0]!.sequence, 0);
    assert.equal(data.snapshots.at(-1)!.sequence, 49);
    assert.equal(data.stacks.length, 300);
    assert.ok(data.snapshots.every((s) => s.stacks.length === 300));
    assert.ok(data.frames.includes('f399') && !data.frames.includes('f99'), 'the heaviest kept');
    assert.equal(data.snapshots[0]!.totalBytes, (400 * 401) / 2);
    assert.deepEqual(evenlySpaced(5, 3), [0, 2, 4]);
    assert.deepEqual(evenlySpaced(2, 10), [0, 1]);
  });
});

describe('escaping helpers', () => {
  test('escapeHtml and jsonForScript', () => {
    assert.equal(escapeHtml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&#39;');
    const json = jsonForScript({ name: `</script><!-- ${hostile} \u2028` });
    assert.ok(!/[<>&\u2028]/.test(json));
    assert.deepEqual(JSON.parse(json), { name: `</script><!-- ${hostile} \u2028` });
  });
});

describe('terminal sparkline and live status', () => {
  test('sparkline from 0 to the maximum, bucketed to the width', () => {
    assert.equal(sparkline([0, 1, 2, 3]), '▁▃▆█');
    assert.equal(sparkline([5, 5, 5]), '███');
    assert.equal(sparkline([0, 0]), '▁▁');
    assert.equal(sparkline([]), '');
    assert.equal(sparkline(Array.from({ length: 100 }, (_, i) => i), 10).length, 10);
    const text = renderText(report(), { top: 3 });
    assert.match(text, /live over time/);
    assert.ok(text.includes(sparkline([3 * MiB, 8 * MiB, 14 * MiB, 19 * MiB])));
  });

  test('status text, and nothing at all on a stream that is not a terminal', () => {
    assert.equal(statusText({ elapsedMs: 12_300, rssBytes: 45 * MiB, snapshots: 7, liveBytes: 12 * MiB, firstLiveBytes: 9 * MiB }),
      'leakhunt: 12s · RSS 45.0 MiB · live malloc 12.0 MiB (+3.00 MiB) · 7 snapshots');
    assert.equal(statusText({ elapsedMs: 500, rssBytes: MiB, snapshots: 0 }), 'leakhunt: 500ms · RSS 1.00 MiB · 0 snapshots');
    let written = '';
    const sink = new Writable({ write(chunk, _encoding, done) { written += String(chunk); done(); } }) as unknown as NodeJS.WriteStream;
    const line = startStatusLine({ rawDir: '/nonexistent', enabled: true, stream: sink });
    line.setPid(1);
    line.onTick(1000, MiB);
    line.stop();
    assert.equal(written, '', 'not a TTY: silent');
    const tty = Object.assign(sink, { isTTY: true, columns: 200 });
    const shown = startStatusLine({ rawDir: '/nonexistent', enabled: true, stream: tty });
    shown.onTick(1000, MiB);
    shown.stop();
    assert.equal(written, '\r\x1b[2Kleakhunt: 1.0s · RSS 1.00 MiB · 0 snapshots\r\x1b[2K');
    written = '';
    const quiet = startStatusLine({ rawDir: '/nonexistent', enabled: false, stream: tty });
    quiet.onTick(1000, MiB);
    assert.equal(written, '');
  });
});
