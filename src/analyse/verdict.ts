/** The one-line answer: is native memory leaking, and where. */
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import type { MemoryGrowth, SiteReport, Verdict } from './types.js';

export const MIN_SNAPSHOTS_FOR_TREND = 3;

export interface VerdictInput {
  snapshotCount: number;
  durationSec: number;
  sites: readonly SiteReport[];
  memory: MemoryGrowth;
}

export function decideVerdict(input: VerdictInput): Verdict {
  const growing = input.sites.filter((s) => s.status === 'growing');
  if (input.snapshotCount < MIN_SNAPSHOTS_FOR_TREND) {
    return {
      kind: 'inconclusive',
      summary: `only ${input.snapshotCount} snapshot(s) in ${formatDurationMs(input.durationSec * 1000)}: a trend needs at least ${MIN_SNAPSHOTS_FOR_TREND}; run longer (--duration) or snapshot more often (--interval)`,
    };
  }
  if (growing.length > 0) {
    const top = growing[0]!;
    return {
      kind: 'native-leak',
      summary: `native memory leaks: ${growing.length} call site(s) grow; the top one, ${top.function}, at ${formatRate(top.leakRateBytesPerHour)} (${formatBytes(top.growthBytes)} over the run, confidence ${top.confidence.toFixed(2)})`,
    };
  }
  return {
    kind: 'no-growth',
    summary: `no call site's live native memory grows significantly over ${formatDurationMs(input.durationSec * 1000)} (${input.snapshotCount} snapshots); live malloc ${formatBytes(input.memory.liveEndBytes)}`,
  };
}
