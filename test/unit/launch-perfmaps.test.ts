/** The perf-map keeper's rules: which copy to thin, what counts as an entry. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyToThin, countPerfMapEntries, MAX_PERF_MAP_COPIES } from '../../src/launch/perfmaps.js';

describe('copyToThin', () => {
  test('first and last always stay; the copy whose neighbours are closest goes', () => {
    assert.equal(copyToThin([0, 1000]), undefined);
    assert.equal(copyToThin([0, 1000, 3000]), 1);
    assert.equal(copyToThin([0, 1000, 3000, 7000, 15000, 15500, 16000]), 5);
    assert.equal(copyToThin([0, 100, 200, 60000, 120000]), 1);
  });
  test('kept to the bound, over a long run of doubling gaps, the copies still span it', () => {
    let times: number[] = [];
    for (let t = 1000, gap = 1000; t < 3_600_000; t += gap, gap = Math.min(gap * 2, 60_000)) {
      times.push(t);
      while (times.length > MAX_PERF_MAP_COPIES) times = times.filter((_, i) => i !== copyToThin(times));
    }
    assert.equal(times.length, MAX_PERF_MAP_COPIES);
    assert.equal(times[0], 1000);
    assert.ok(times[times.length - 1]! > 3_500_000);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(Math.max(...gaps) < 8 * 60_000, `no hole much larger than the rest: ${gaps}`);
  });
});

test('countPerfMapEntries', () => {
  assert.equal(countPerfMapEntries('0x00007f6158940b80 0x0000000000017de0 Interpreter\n7f00 40 foo\nnot an entry\n\n'), 2);
});
