import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SiteReport } from '../../src/analyse/types.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { REPORT_SCHEMA, type RunReport } from '../../src/pipeline/model.js';

/** LEAKHUNT_UPDATE_GOLDEN=1 rewrites the golden file from the current output (then review the diff). */
const goldenPath = fileURLToPath(new URL('../../../test/unit/data/report-markdown.golden.md', import.meta.url));

const MiB = 1024 * 1024;

function site(rank: number, fields: Partial<SiteReport> & Pick<SiteReport, 'function' | 'location' | 'status'>): SiteReport {
  return {
    rank, stack: [fields.location], shape: 'noise', leakRateBytesPerHour: 0, leakRateIntervalBytesPerHour: [0, 0],
    growthBytes: 0, liveBytes: 0, confidence: 0.5, series: [], ...fields,
  };
}

/** A fixed report: no paths, no times, names that need escaping in Markdown. */
function syntheticReport(): RunReport {
  return {
    schema: REPORT_SCHEMA,
    detection: { detectableRateBytesPerHour: 2 * 1024 * 1024 },
    command: ['java', '-cp', 'classes', 'demo.LeakyService'],
    pid: 4242,
    exitStatus: 0,
    durationSec: 30,
    sampleBytes: 512 * 1024,
    snapshotIntervalMs: 1000,
    snapshots: 30,
    verdict: {
      kind: 'native-leak',
      summary: 'native memory leaks: 1 call site(s) grow; the top one, remember_session_forever(char const*), at 2.00 GiB/h (16.7 MiB over the run, confidence 1.00)',
    },
    memory: {
      rssGrowthBytesPerHour: 2.5 * 1024 * MiB, liveGrowthBytesPerHour: 2 * 1024 * MiB,
      rssStartBytes: 40 * MiB, rssEndBytes: 61 * MiB, liveStartBytes: 3 * MiB, liveEndBytes: 20 * MiB,
      allocator: 'glibc',
      accountingWindow: { fromSec: 2, toSec: 30, snapshots: 28 },
      accounting: [
        { part: 'live-malloc', startBytes: 3 * MiB, endBytes: 20 * MiB, growthBytes: 17 * MiB, growthBytesPerHour: 2 * 1024 * MiB },
        { part: 'allocator-retained', startBytes: 1 * MiB, endBytes: 2 * MiB, growthBytes: 1 * MiB, growthBytesPerHour: 128 * MiB },
        { part: 'anon-mmap', startBytes: 36 * MiB, endBytes: 39 * MiB, growthBytes: 3 * MiB, growthBytesPerHour: 384 * MiB },
      ],
      trimProbe: { timeSec: 27, releasedBytes: 1 * MiB, rssBeforeBytes: 61 * MiB, rssAfterBytes: 60 * MiB },
    },
    shim: null,
    warnings: ['the shim\'s tables overflowed (3 samples and 0 stacks dropped): raise --sample-bytes'],
    sites: [
      site(1, {
        function: 'remember_session_forever(char const*)', location: 'remember_session_forever(char const*) (demoregistry.cpp:70)',
        status: 'growing', shape: 'linear', leakRateBytesPerHour: 2 * 1024 * MiB, leakRateIntervalBytesPerHour: [1.9 * 1024 * MiB, 2.1 * 1024 * MiB],
        growthBytes: 16.7 * MiB, liveBytes: 19.5 * MiB, confidence: 1,
        stack: [
          'operator new(unsigned long) (libstdc++.so.6.0.30)',
          'std::_Rb_tree<std::__cxx11::basic_string<char>, std::pair<std::__cxx11::basic_string<char> const, long> >::_M_get_node() (stl_tree.h:561)',
          'remember_session_forever(char const*) (demoregistry.cpp:70)',
          'Java_demo_NativeRegistry_rememberSession (demoregistry.cpp:109)',
          'demo.NativeRegistry.rememberSession (NativeRegistry.java:12)',
        ],
      }),
      site(2, {
        function: 'Pool::operator|(int)', location: 'Pool::operator|(int) (pool.cc:7)', status: 'new',
        growthBytes: 2 * MiB, liveBytes: 2 * MiB, confidence: 0.62, leakRateBytesPerHour: 240 * MiB,
        stack: ['malloc (libc.so.6)', 'Pool::operator|(int) (pool.cc:7)', 'weird`name (pool.cc:9)'],
      }),
      site(3, {
        function: 'churn_scratch_buffers(int)', location: 'churn_scratch_buffers(int) (demoregistry.cpp:92)',
        status: 'stable', leakRateBytesPerHour: -349 * MiB, growthBytes: 1.02 * MiB, liveBytes: 5.6 * MiB, confidence: 0.22,
      }),
      site(4, { function: 'hold_startup_cache', location: 'hold_startup_cache (leaky_apis.c:80)', status: 'gone', growthBytes: -256 * 1024, confidence: 0 }),
    ],
  };
}

describe('renderMarkdown', () => {
  test('matches the golden file', () => {
    const markdown = renderMarkdown(syntheticReport());
    if (process.env.LEAKHUNT_UPDATE_GOLDEN) writeFileSync(goldenPath, markdown);
    assert.equal(markdown, readFileSync(goldenPath, 'utf8'));
  });

  test('an attached run says since when it was tracked', () => {
    const attached = { ...syntheticReport(), trackingSince: '2026-12-04T10:00:00.000Z' };
    assert.match(renderMarkdown(attached), /\*\*Attached:\*\* tracking since 2026-12-04T10:00:00\.000Z \(attached to a running process/);
    assert.doesNotMatch(renderMarkdown(syntheticReport()), /tracking since/);
  });

  test('the verdict is the first line, as a heading', () => {
    assert.match(renderMarkdown(syntheticReport()).split('\n')[0]!, /^## Native leak: native memory leaks: 1 call site\(s\) grow; the top one, remember\\_session\\_forever/);
  });

  test('the table keeps one cell per column whatever the names hold', () => {
    const markdown = renderMarkdown(syntheticReport());
    const sitesTable = markdown.slice(markdown.indexOf('| # |')).split('\n').filter((line) => line.startsWith('| '));
    assert.equal(sitesTable.length, 5, 'a header and four sites');
    for (const row of sitesTable) assert.equal(row.replace(/\\\|/g, '').split('|').length - 2, 7, row);
  });

  test('where the RSS went: one row per part, RSS last as their sum, and the trim probe', () => {
    const markdown = renderMarkdown(syntheticReport());
    const table = markdown.slice(markdown.indexOf('| part |'), markdown.indexOf('| # |')).split('\n').filter((line) => line.startsWith('| '));
    assert.deepEqual(table.map((row) => row.split('|')[1]!.trim()), ['part', 'live malloc', 'allocator-retained', 'anonymous mmap', '**RSS**']);
    assert.match(table[4]!, /\| 40\.0 MiB \| 61\.0 MiB \| \+21\.0 MiB \| 2\.50 GiB\/h \|/);
    assert.match(markdown, /\*\*Trim probe\*\* at 27\.0 s: malloc_trim\(0\) gave back 1\.00 MiB/);
    const none = syntheticReport();
    delete none.memory.accounting;
    assert.doesNotMatch(renderMarkdown(none), /Where the RSS went/);
  });

  test('--top limits the table and says how many are left', () => {
    const markdown = renderMarkdown(syntheticReport(), { top: 1 });
    assert.match(markdown, /3 more sites in report\.json\./);
    assert.doesNotMatch(markdown, /churn_scratch/);
    assert.equal((markdown.match(/<details>/g) ?? []).length, 1);
  });

  test('long stacks are cut with a note', () => {
    const markdown = renderMarkdown(syntheticReport(), { stackFrames: 2 });
    assert.match(markdown, /… 3 more frames \(report\.json has them all\)/);
  });

  test('no sites: says so, no table', () => {
    const report = { ...syntheticReport(), sites: [], warnings: [] };
    const markdown = renderMarkdown(report);
    assert.match(markdown, /No sampled live allocations\.\n$/);
    assert.doesNotMatch(markdown, /\| #/);
  });
});
