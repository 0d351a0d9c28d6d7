import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ThinnedSeries } from '../../src/core/thinned-series.js';
import { compileDriver, type Driver } from './helpers/native-driver.js';

describe('ThinnedSeries', () => {
  it('keeps everything until it is full, in order', () => {
    const series = new ThinnedSeries<number>(40);
    for (let i = 0; i < 40; i++) series.push(i);
    assert.deepEqual(series.values(), Array.from({ length: 40 }, (_, i) => i));
  });

  it('stays bounded over a long series: all early and recent points, an evenly spaced middle', () => {
    const series = new ThinnedSeries<number>(40);
    for (let n = 0; n < 100_000; n++) {
      series.push(n);
      if (n % 997 !== 0 && n !== 99_999) continue;
      const kept = series.values();
      assert.ok(kept.length <= 40, `${kept.length} kept after ${n + 1}`);
      assert.deepEqual(kept.slice(0, 10), Array.from({ length: Math.min(10, n + 1) }, (_, i) => i));
      assert.deepEqual(kept.slice(-10), Array.from({ length: Math.min(10, n + 1) }, (_, i) => n - Math.min(10, n + 1) + 1 + i));
      assert.ok(kept.every((v, i) => i === 0 || v > kept[i - 1]!), 'in push order');
      const middle = kept.slice(10, -10);
      const gaps = new Set(middle.slice(1).map((v, i) => v - middle[i]!));
      assert.ok(gaps.size <= 1, `even middle after ${n + 1}: ${middle.join(' ')}`);
    }
    assert.equal(series.pushed, 100_000);
    assert.ok(series.values().length >= 30, 'it does not thin more than it must');
  });

  it('refuses a bound too small for its three parts', () => {
    assert.throws(() => new ThinnedSeries(7), RangeError);
  });
});

/**
 * The rule exists twice: the shim deletes raw snapshots by it (native/retention.c) and the CLI thins what it samples
 * itself by it (ThinnedSeries), so that both series line up. Both are fed the same sequence numbers — every newest
 * sequence n up to a few thousand, for many bounds M — and must keep the same set after each.
 */
describe('ThinnedSeries and the shim\'s snapshot retention keep the same points', () => {
  let driver: Driver;
  before(async () => { driver = await compileDriver(['retention.c', 'test/retention_kept.c']); });
  after(() => driver?.cleanup());

  const bounds = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 23, 31, 32, 33, 40, 41, 64, 99, 100, 127, 360];
  for (const maxPoints of bounds) {
    it(`M = ${maxPoints}`, () => {
      const last = Math.min(40 * maxPoints, 3000);
      const lines = execFileSync(driver.path, [String(maxPoints), String(last)], { encoding: 'utf8', maxBuffer: 64 << 20 }).trimEnd().split('\n');
      assert.equal(lines.length, last + 1);
      const series = new ThinnedSeries<number>(maxPoints);
      for (let n = 0; n <= last; n++) {
        series.push(n);
        const kept = series.values().join(' ');
        if (lines[n] !== `${n}:${kept ? ` ${kept}` : ''}`) assert.fail(`M = ${maxPoints}, newest ${n}:\n  shim keeps ${lines[n]}\n  CLI keeps  ${n}: ${kept}`);
      }
    });
  }
});

