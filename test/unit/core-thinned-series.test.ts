import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ThinnedSeries } from '../../src/core/thinned-series.js';

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
