/**
 * Allocations the shim did not see (README "Where did the RSS go?"): the allocator's own count of the bytes it has
 * handed out, against the shim's estimate of the same bytes.
 *
 * The shim sees every allocation made through malloc's symbol. A library that reaches the allocator another way —
 * a function pointer from dlsym on a libc handle taken before the shim catches it, glibc's __libc_malloc, a statically
 * linked copy of the allocator's entry points that still allocates from glibc's arenas — is invisible to every site,
 * but the allocator counts its blocks: glibc's mallinfo2 uordblks + hblkhd (chunks, headers included), jemalloc's
 * stats.allocated. The difference D = allocatorInUseBytes − shimSeenInUseBytes (timeline.ts) is what the shim did not
 * see, plus things that stay put (blocks allocated before the shim loaded, glibc's per-thread caches of freed chunks).
 * A leak there makes D grow.
 *
 * The test (the growth of D is significant): the least-squares slope of D over the trend window (after the start-up
 * climb, before a trim probe), with the shim's estimate taken at the top of its uncertainty on the per-block
 * overhead — plus 16 bytes per live block from older snapshots, whose estimate assumes 16 where glibc's overhead over a
 * request is 8 to 31 bytes; plus 8 from usable sizes, for the 8 bytes an mmapped chunk's header has over a heap
 * chunk's — so a seen leak of many small blocks, whose chunk overhead grows with it, cannot pass for an unseen one.
 * Its standard error counts the larger of D's own scatter and the sampler's noise on the shim's estimate Ŝ (S·Ŝ per
 * point), plus Ŝ's counting noise (trend.ts); its confidence is trend.ts's skeptical posterior. D grows when that
 * confidence is at least 0.9, its shape is linear (a one-off allocation is a step, a pool that filled is
 * saturating) and it grew by at least max(2·S, 4 MiB) over the window (on the least-squares line). Why 4 MiB: glibc's per-thread caches count
 * as in use what a thread freed (up to 7 chunks of each size up to 1 KiB: about 240 KiB a thread), so a program that
 * adds threads grows D without leaking — a pool ramping up to 16 workers that churn small blocks, by 1.1 MiB
 * (fixtures/c/fragmenter.c, measured), linearly and at high confidence.
 *
 * Other allocators: tcmalloc and the rest give no in-use figure the shim reads, so the cross-check is unavailable
 * there; so it is under jemalloc with snapshots older than format 3 (without usable sizes, the estimate is off by up
 * to a quarter: jemalloc's size classes).
 */
import { DEFAULT_MIN_CONFIDENCE } from './rank.js';
import { fitLine } from './statistics.js';
import { beforeTrim, type TimelinePoint } from './timeline.js';
import { trendOf, type TrendShape } from './trend.js';

/** Growth of the unseen bytes below this is not material (and at least two sampling intervals): see the top of the file. */
export const MIN_UNSEEN_GROWTH_BYTES = 4 * 1024 * 1024;
/** Per live block, the most the shim's estimate may under-count glibc's overhead: older snapshots, usable sizes. */
const OVERHEAD_UNCERTAINTY_APPROXIMATE = 16;
const OVERHEAD_UNCERTAINTY_USABLE = 8;

/** Why the cross-check could not be made. */
export type UnseenUnavailable =
  /** tcmalloc or another allocator: no in-use figure the shim reads. */
  | 'allocator'
  /** jemalloc, with snapshots older than format 3 (no usable sizes). */
  | 'no-usable-sizes'
  /** No allocator figures in this run's snapshots (glibc without mallinfo2, or a timeline from before). */
  | 'no-figures'
  /** Fewer than three snapshots with both figures in the trend window. */
  | 'too-few-snapshots';

export interface UnseenGrowth {
  available: true;
  allocator: 'glibc' | 'jemalloc';
  /** The shim's estimate came from usable sizes (format 3), not from the approximation. */
  fromUsableBytes: boolean;
  /** The window: from the end of the start-up climb to the last snapshot before a trim probe. */
  fromSec: number;
  toSec: number;
  snapshots: number;
  /** The unseen bytes (allocator − shim, central estimate) at the start and end of the window. */
  startBytes: number;
  endBytes: number;
  /** The growth tested (see the top of the file): least-squares rate, its 90% interval, growth on that line over the window, confidence, shape. */
  rateBytesPerHour: number;
  rateIntervalBytesPerHour: [number, number];
  growthBytes: number;
  confidence: number;
  shape: TrendShape;
  /** The unseen bytes grow: confidence ≥ 0.9, linear, material. */
  grows: boolean;
}

export type UnseenCheck = UnseenGrowth | { available: false; why: UnseenUnavailable; allocator?: TimelinePoint['allocator'] };

type CrossChecked = TimelinePoint & { allocatorInUseBytes: number; shimSeenInUseBytes: number };

/** Both figures, as numbers (a timeline.json from elsewhere may hold anything). */
const crossChecked = (p: TimelinePoint): p is CrossChecked => Number.isFinite(p.allocatorInUseBytes) && Number.isFinite(p.shimSeenInUseBytes)
  && Number.isFinite(p.timeSec);

/**
 * Per point, the allocator's in-use bytes the shim did not see (never below 0: the estimate's noise can put it
 * there); undefined where the point lacks either figure. The figure for memory.accounting's part unseen-malloc.
 */
export function unseenMallocSeries(points: readonly TimelinePoint[]): (number | undefined)[] {
  return points.map((p) => (crossChecked(p) ? Math.max(0, p.allocatorInUseBytes - p.shimSeenInUseBytes) : undefined));
}

export interface UnseenOptions {
  /** The sampling interval in force (bytes): the noise on the shim's estimate. */
  sampleIntervalBytes: number;
  /** Start of the trend window (seconds since the run started). */
  fromSec?: number;
  /** The confidence growth needs (default 0.9). */
  minConfidence?: number;
}

function unavailable(points: readonly TimelinePoint[]): UnseenCheck {
  const allocator = points[points.length - 1]?.allocator;
  const why: UnseenUnavailable = allocator === 'tcmalloc' || allocator === 'other' ? 'allocator'
    : allocator === 'jemalloc' && points.some((p) => p.allocatorInUseBytes !== undefined) ? 'no-usable-sizes'
      : 'no-figures';
  return { available: false, why, ...(typeof allocator === 'string' ? { allocator } : {}) };
}

/** Whether the allocator's in-use bytes grow beyond what the shim saw, over the trend window (see the top of the file). */
export function unseenGrowth(timeline: readonly TimelinePoint[], options: UnseenOptions): UnseenCheck {
  const all = beforeTrim(timeline);
  let window = all.filter((p) => options.fromSec === undefined || p.timeSec >= options.fromSec);
  if (window.length < 3) window = all;
  const points = window.filter(crossChecked);
  if (points.length === 0) return unavailable(window);
  if (points.length < 3) return { available: false, why: 'too-few-snapshots', ...(window[0]?.allocator ? { allocator: window[0].allocator } : {}) };
  const times = points.map((p) => p.timeSec);
  const usable = points.every((p) => p.shimSeenFromUsableBytes === true);
  const perBlock = usable ? OVERHEAD_UNCERTAINTY_USABLE : OVERHEAD_UNCERTAINTY_APPROXIMATE;
  const seen = points.map((p) => p.shimSeenInUseBytes + perBlock * (Number.isFinite(p.liveObjects) ? p.liveObjects! : 0));
  const tested = points.map((p, i) => p.allocatorInUseBytes - seen[i]!);
  const sampleBytes = options.sampleIntervalBytes;
  const seenSlope = fitLine(times, seen, seen.map(() => 0)).slope;
  const trend = trendOf(times, tested, sampleBytes, { levels: seen, slopeBytesPerSec: Number.isFinite(seenSlope) ? seenSlope : 0 });
  const material = Math.max(2 * Math.max(sampleBytes, 1), MIN_UNSEEN_GROWTH_BYTES);
  const first = points[0]!;
  const last = points[points.length - 1]!;
  // On the line: what the last point alone says moves with its noise.
  const growthBytes = (trend.rateBytesPerHour / 3600) * (last.timeSec - first.timeSec);
  return {
    available: true,
    allocator: last.allocator === 'jemalloc' ? 'jemalloc' : 'glibc',
    fromUsableBytes: usable,
    fromSec: first.timeSec, toSec: last.timeSec, snapshots: points.length,
    startBytes: first.allocatorInUseBytes - first.shimSeenInUseBytes,
    endBytes: last.allocatorInUseBytes - last.shimSeenInUseBytes,
    rateBytesPerHour: trend.rateBytesPerHour,
    rateIntervalBytesPerHour: trend.rateIntervalBytesPerHour,
    growthBytes,
    confidence: trend.confidence,
    shape: trend.shape,
    grows: trend.confidence >= (options.minConfidence ?? DEFAULT_MIN_CONFIDENCE) && trend.shape === 'linear' && growthBytes >= material,
  };
}
