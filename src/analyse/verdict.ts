/**
 * The one-line answer: is native memory leaking, and where — or, when RSS grows without a leak, where it went.
 *
 *   native-leak    call sites' live malloc grows (named, ranked); or, with no site, native memory outside the JVM's
 *                  parts grows: thread stacks of a program that is no JVM, anonymous mmap'd memory, malloc the
 *                  shim did not see (unseen.ts: the allocator's in-use bytes beyond the shim's estimate)
 *   fragmentation  RSS and the allocator's free-but-kept memory grow while live malloc stays flat
 *   java-heap      the Java heap's resident pages grow and explain the RSS growth
 *   jvm-internal   the JVM's own memory grows: thread stacks, metaspace, the code cache, or (NMT) the rest
 *   no-growth      nothing grows: no site, and RSS does not grow materially (or only with live malloc that levelled
 *                  off, or only by the pages of a mapped file being read)
 *   inconclusive   too few snapshots; or a site grows but not significantly (or slower than this run can show); or
 *                  RSS grows where this run could not see (and what it was missing)
 *
 * Consistency: no-growth and fragmentation ("not a leak") are never said while a site's live memory rises
 * materially — that is inconclusive, with what it would take to decide (and, for fragmentation, what RSS did).
 *
 * The decision is data — which case, which part, which sites; its sentences are written in report.json by the
 * pipeline (pipeline/verdict-text.ts).
 */
import type { AccountingPart, AccountingRow, MemoryAccounting, TrimProbe } from './accounting.js';
import { durationToDetectSec, sampleBytesToDetect } from './detection.js';
import type { MemoryGrowth, SiteReport, VerdictKind } from './types.js';
import type { UnseenCheck, UnseenGrowth } from './unseen.js';

export const MIN_SNAPSHOTS_FOR_TREND = 3;

/** RSS growth over the window counts from this many bytes, or this share of RSS at its start if more. */
export const MIN_RSS_GROWTH_BYTES = 4 * 1024 * 1024;
export const MIN_RSS_GROWTH_SHARE = 0.05;
/** A part explains the RSS growth when it is the largest and holds at least this share of it. */
export const EXPLAINS_SHARE = 0.4;

export interface VerdictInput {
  snapshotCount: number;
  durationSec: number;
  sites: readonly SiteReport[];
  memory: MemoryGrowth;
  /** Where the RSS went over the trend window; without it, only a growing site or nothing is told apart. */
  accounting?: MemoryAccounting;
  /** The trim probe (--trim-probe), as evidence of memory the allocator held free. */
  trimProbe?: TrimProbe | null;
  /** The command that ran, for the remedies' command lines. */
  command?: readonly string[];
  /** The cross-check of the allocator's in-use bytes against what the shim saw (unseen.ts). */
  unseen?: UnseenCheck;
  /** The trend window's snapshots and span, and the smallest leak rate they could show in a call site of its own
   * (report.json's detection). */
  detection?: { rateBytesPerHour: number; spanSec: number; snapshots: number };
  /** The sampling interval in force (a site's growth below two of them is within what chance does). */
  sampleIntervalBytes?: number;
  /** Time between snapshots, seconds: for the duration a run needs to confirm a leak. */
  snapshotIntervalSec?: number;
  /** Where the sites' trend window starts, when their warm-up was left out: its time, and its index in a site's series. */
  windowFromSec?: number;
  windowStart?: number;
}

/** Which way the decision went: each case is one kind, and one wording. */
export type VerdictCase =
  /** inconclusive: fewer than MIN_SNAPSHOTS_FOR_TREND snapshots. */
  | 'too-few-snapshots'
  /** native-leak: call sites grow. */
  | 'sites-grow'
  /** native-leak: no call site grows, but the allocator's in-use bytes the shim did not see do (unseen.ts). */
  | 'unseen-grows'
  /** no-growth: no site grows, and there is no accounting to say more. */
  | 'nothing-grows'
  /** no-growth: RSS does not grow materially. */
  | 'rss-flat'
  /** java-heap: the Java heap's committed size explains the RSS growth. */
  | 'java-heap'
  /** jvm-internal: NMT's JVM-internal memory explains it. */
  | 'jvm-internal'
  /** fragmentation: memory the allocator holds free explains it (or the trim probe gave it back), live malloc flat. */
  | 'allocator-retained'
  /** no-growth: RSS grew with live malloc, which levelled off. */
  | 'live-levelled-off'
  /** inconclusive: a site's live memory rises, but not significantly, or slower than this run can show. */
  | 'site-grows-unconfirmed'
  /** jvm-internal or native-leak: thread stacks explain it (threads that are never ended). */
  | 'thread-stacks'
  /** jvm-internal: the metaspace or the code cache explains it. */
  | 'jvm-part'
  /** no-growth: the pages of mapped files explain it. */
  | 'file-mapped'
  /** native-leak: anonymous mmap'd memory outside malloc and the JVM's ranges explains it. */
  | 'anon-mmap'
  /** native-leak: malloc'd memory the shim did not see explains it. */
  | 'unseen-malloc'
  /** inconclusive: RSS grows and nothing measured explains it. */
  | 'rss-unexplained';

/** Why RSS growth is unexplained (rss-unexplained). */
export type UnexplainedBecause =
  /** Live malloc grows, but no single site stands out. */
  | 'live-malloc-spread'
  /** Live malloc grows with churn under rising load: sites whose blocks are all young and rise in number, not kept. */
  | 'live-malloc-churn'
  /** In anonymous mmap'd memory of a JVM whose NMT was off: its GC structures, or a native mmap. */
  | 'anon-mmap-jvm'
  /** In anonymous mmap'd memory, where an allocator without statistics (tcmalloc, …) keeps its free memory too. */
  | 'anon-mmap-allocator'
  /** Outside the parts measured (snapshots without resident memory by mapping). */
  | 'outside-malloc'
  /** The largest part holds less than EXPLAINS_SHARE of it. */
  | 'no-part-explains';

export interface VerdictDecision {
  kind: VerdictKind;
  case: VerdictCase;
  snapshotCount: number;
  durationSec: number;
  /** Live malloc at the end of the run. */
  liveEndBytes: number;
  /** The growing sites, in rank order. */
  growing: SiteReport[];
  /** Sites whose growth is churn (rank.ts: young blocks rising in number), by growth. */
  churning: SiteReport[];
  /** Where the trend window starts, when the start-up was left out (the sites' growth is from there). */
  windowFromSec?: number;
  accounting?: MemoryAccounting;
  trimProbe: TrimProbe | null;
  command?: readonly string[];
  /** When RSS grows: the part that grew most. */
  largest?: AccountingRow;
  because?: UnexplainedBecause;
  /**
   * The cross-check of what the shim saw (unseen.ts), when made: its growth is the finding of unseen-grows, and a
   * second one beside sites-grow.
   */
  unseen?: UnseenCheck;
  /**
   * site-grows-unconfirmed (and java-heap, beside the heap): the site; the run's detectable rate when it is above the site's rate; what would confirm
   * it — a run this long (the snapshot span, at this sampling and interval), or this sampling interval in a run as long.
   */
  unconfirmed?: { site: SiteReport; detectableRateBytesPerHour?: number; durationSec?: number; sampleBytes?: number };
  /** site-grows-unconfirmed: the case that would have held without the site (fragmentation's), with `largest`. */
  otherwise?: VerdictCase;
}

/** The unseen bytes grow (unseen.ts). */
export function unseenGrows(check: UnseenCheck | undefined): check is UnseenGrowth {
  return check?.available === true && check.grows;
}

function rssGrows(a: MemoryAccounting): boolean {
  const material = Math.max(MIN_RSS_GROWTH_BYTES, MIN_RSS_GROWTH_SHARE * a.rss.startBytes);
  return a.rss.growthBytes >= material && a.rssTrend.confidence >= 0.9;
}

/** Live malloc grows: a significant, linear trend of a material size. */
function liveGrows(a: MemoryAccounting): boolean {
  const t = a.liveTrend;
  return t.confidence >= 0.9 && t.shape === 'linear' && t.growthBytes >= Math.max(MIN_RSS_GROWTH_BYTES / 4, 0.1 * a.rss.growthBytes);
}

export function accountingRow(a: MemoryAccounting, part: AccountingPart): AccountingRow | undefined {
  return a.rows.find((r) => r.part === part);
}

/** Churn sites (rank.ts) hold most of the live malloc growth: more blocks in flight, none kept. */
function churnExplains(churning: readonly SiteReport[], a: MemoryAccounting): boolean {
  const churn = churning.reduce((sum, s) => sum + s.growthBytes, 0);
  return churn > 0 && churn >= EXPLAINS_SHARE * a.liveTrend.growthBytes;
}

type GrowthCase = Pick<VerdictDecision, 'kind' | 'case' | 'largest' | 'because'>;

/** The parts that are the JVM's own (thread stacks are the JVM's in a JVM, the program's elsewhere). */
const JVM_PARTS: ReadonlySet<AccountingPart> = new Set(['jvm-metaspace', 'jvm-code-cache', 'jvm-internal']);

/** What the part that explains the RSS growth says. */
function explainedBy(largest: AccountingRow, a: MemoryAccounting): GrowthCase | undefined {
  switch (largest.part) {
    case 'java-heap': return { kind: 'java-heap', case: 'java-heap', largest };
    case 'jvm-internal': return { kind: 'jvm-internal', case: 'jvm-internal', largest };
    case 'thread-stacks': return { kind: a.jvm ? 'jvm-internal' : 'native-leak', case: 'thread-stacks', largest };
    case 'file-mapped': return { kind: 'no-growth', case: 'file-mapped', largest };
    case 'unseen-malloc': return { kind: 'native-leak', case: 'unseen-malloc', largest };
    case 'anon-mmap':
      // What else is anonymous mmap'd memory, this run cannot tell apart: an allocator's free memory when it keeps no
      // statistics, a JVM's other structures when NMT is off.
      if (a.allocator !== undefined && a.allocator !== 'glibc' && a.allocator !== 'jemalloc') {
        return { kind: 'inconclusive', case: 'rss-unexplained', largest, because: 'anon-mmap-allocator' };
      }
      return a.jvm && a.nmtGrowth === undefined
        ? { kind: 'inconclusive', case: 'rss-unexplained', largest, because: 'anon-mmap-jvm' }
        : { kind: 'native-leak', case: 'anon-mmap', largest };
    default: return JVM_PARTS.has(largest.part) ? { kind: 'jvm-internal', case: 'jvm-part', largest } : undefined;
  }
}

/** Which case holds when RSS grows materially and no call site does. */
function rssGrowthCase(a: MemoryAccounting, trim: TrimProbe | null, churning: readonly SiteReport[]): GrowthCase {
  const rss = a.rss;
  const largest = [...a.rows].sort((x, y) => y.growthBytes - x.growthBytes)[0];
  if (!largest) return { kind: 'inconclusive', case: 'rss-unexplained', because: 'no-part-explains' };
  const explains = largest.growthBytes >= EXPLAINS_SHARE * rss.growthBytes;
  const liveGrowing = liveGrows(a);
  const retained = accountingRow(a, 'allocator-retained');
  const trimExplains = trim !== null && trim.releasedBytes >= EXPLAINS_SHARE * rss.growthBytes;
  if (!liveGrowing && ((explains && largest.part === 'allocator-retained') || (trimExplains && !retained))) {
    return { kind: 'fragmentation', case: 'allocator-retained', largest };
  }
  if (largest.part === 'live-malloc') {
    if (!liveGrowing) return { kind: 'no-growth', case: 'live-levelled-off', largest };
    return { kind: 'inconclusive', case: 'rss-unexplained', largest, because: churnExplains(churning, a) ? 'live-malloc-churn' : 'live-malloc-spread' };
  }
  const named = explains ? explainedBy(largest, a) : undefined;
  if (named) return named;
  return { kind: 'inconclusive', case: 'rss-unexplained', largest, because: explains && largest.part === 'unaccounted' ? 'outside-malloc' : 'no-part-explains' };
}

/**
 * A growth this many sampling intervals holds enough samples for one interval holding half of them to mean a
 * one-off: a leak's samples come as a Poisson process, and with a handful of them over tens of intervals, half in
 * one is a common clump (with 6 over 30 intervals, a few runs in a hundred), with 16 a rare one (below 1%).
 */
const STEP_MIN_SAMPLES = 16;

/**
 * One interval of the window holds most of the site's growth: a one-off (a table loaded once), not a rise — when the
 * growth holds enough samples to tell a step from a clump of them (STEP_MIN_SAMPLES).
 */
function isStep(site: SiteReport, windowStart: number, sampleBytes: number): boolean {
  if (site.growthBytes < STEP_MIN_SAMPLES * sampleBytes) return false;
  const series = site.series.slice(Math.min(windowStart, Math.max(site.series.length - 2, 0)));
  let largest = 0;
  for (let i = 1; i < series.length; i++) largest = Math.max(largest, series[i]! - series[i - 1]!);
  return site.growthBytes > 0 && largest >= 0.5 * site.growthBytes;
}

/**
 * The first site in rank order whose live memory rises materially though it is not called growing: a linear (or
 * not yet shaped) rise beyond the sampling's noise (materialRiseBytes), more likely than not a real one — or any
 * rise of two sampling intervals in memory only ever kept (keptOnly) — not a plateau, a one-off step or churn
 * (rank.ts: young blocks rising in number, not kept).
 */
function unconfirmedGrowth(input: VerdictInput): SiteReport | undefined {
  const sampleBytes = Math.max(input.sampleIntervalBytes ?? 1, 1);
  const windowStart = input.windowStart ?? 0;
  return input.sites.find((s) => s.status !== 'growing' && s.leakRateBytesPerHour > 0 && risingShape(s, sampleBytes, windowStart)
    && !isStep(s, windowStart, sampleBytes) && s.churn !== true && !(s.renewed === true && s.blocks?.sizeCarriesGrowth !== true)
    && (keptOnly(s) ? s.growthBytes >= 2 * sampleBytes : s.growthBytes >= materialRiseBytes(s, sampleBytes) && s.confidence >= 0.5));
}

/**
 * Linear, not yet shaped, or a "step" of too few samples to be told from a clump of them (see isStep) — or memory
 * only ever kept whose "plateau" still gained two sampling intervals in the window's second half: it did not stop
 * (a cache that filled gains nothing once full; a leak's few samples that came early make its halves look so).
 */
function risingShape(site: SiteReport, sampleBytes: number, windowStart: number): boolean {
  if (site.shape === 'linear' || site.shape === 'noise') return true;
  if (site.shape === 'step') return site.growthBytes < STEP_MIN_SAMPLES * sampleBytes;
  if (site.shape !== 'saturating' || !keptOnly(site)) return false;
  const last = site.series.length - 1;
  const middle = Math.min(windowStart, last) + Math.floor((last - Math.min(windowStart, last)) / 2);
  return (site.series[last] ?? 0) - (site.series[middle] ?? 0) >= 2 * sampleBytes;
}

/**
 * Memory only ever kept: nothing its live stacks allocated was freed (freedBytes 0). Its estimate cannot wander (a
 * sample stays until its block is freed), so every sampling interval it gained in the window is a block allocated
 * there and kept — a rise however unsure its line, not noise. Two of them make one, whatever the fit's confidence
 * (a leak whose samples came early in a short run gains few in the window after the warm-up).
 */
function keptOnly(site: SiteReport): boolean {
  return site.freedBytes === 0;
}

/**
 * A rise that means something: two sampling intervals, and twice the sampling noise of the rise. Every sampled
 * block allocated or freed moves a site's estimate by about S bytes, so between two snapshots it wanders by about
 * √(S·(A + F)) for A bytes allocated and F freed at interval S. A table of steady size whose entries are replaced
 * (sessions, cache slots) allocates and frees its size over and over: below that wander some steady site of a
 * program would "rise" in many runs, and no verdict saying "not a leak" could stand. For a rise G, A is about G + F.
 * F is what the site's live stacks freed over the whole run (freedBytes, an upper bound of what they freed in the
 * window); memory that freed nothing does not wander at all and is judged apart (keptOnly). Without F (profiles
 * without alloc_space), a renewed table of B live bytes is assumed: √(S·B).
 */
function materialRiseBytes(site: SiteReport, sampleBytes: number): number {
  const wanderBytes = site.freedBytes !== undefined ? Math.max(site.growthBytes, 0) + 2 * site.freedBytes : Math.max(site.liveBytes, 0);
  return Math.max(2 * sampleBytes, 2 * Math.sqrt(sampleBytes * wanderBytes));
}

/**
 * The verdicts that say there is no leak: a site that rises unconfirmed makes them inconclusive. The Java heap's
 * growth, measured directly, stands; a site rising beside it is said with it (`unconfirmed`), not left out.
 */
const NOT_A_LEAK: ReadonlySet<VerdictKind> = new Set(['no-growth', 'fragmentation']);

export function decideVerdict(input: VerdictInput): VerdictDecision {
  const a = input.accounting;
  const base = {
    snapshotCount: input.snapshotCount, durationSec: input.durationSec, liveEndBytes: input.memory.liveEndBytes,
    growing: input.sites.filter((s) => s.status === 'growing'), trimProbe: input.trimProbe ?? null,
    churning: input.sites.filter((s) => s.churn === true && s.growthBytes > 0).sort((x, y) => y.growthBytes - x.growthBytes),
    ...(a ? { accounting: a } : {}), ...(input.command ? { command: input.command } : {}), ...(input.unseen ? { unseen: input.unseen } : {}),
    ...(input.windowFromSec !== undefined ? { windowFromSec: input.windowFromSec } : {}),
  };
  if (input.snapshotCount < MIN_SNAPSHOTS_FOR_TREND) return { ...base, kind: 'inconclusive', case: 'too-few-snapshots' };
  if (base.growing.length > 0) return { ...base, kind: 'native-leak', case: 'sites-grow' };
  // Allocations the shim did not see are a leak like a site's, named by how they were found instead of where.
  if (unseenGrows(input.unseen)) return { ...base, kind: 'native-leak', case: 'unseen-grows' };
  const growth: GrowthCase = !a ? { kind: 'no-growth', case: 'nothing-grows' }
    : !rssGrows(a) ? { kind: 'no-growth', case: 'rss-flat' } : rssGrowthCase(a, base.trimProbe, base.churning);
  if (!NOT_A_LEAK.has(growth.kind)) {
    const beside = growth.kind === 'java-heap' ? unconfirmedGrowth(input) : undefined;
    return { ...base, ...growth, ...(beside ? { unconfirmed: confirmationOf(beside, input, a) } : {}) };
  }
  // Never "not a leak" while a site's live memory rises: it may be a leak this run could not confirm.
  const site = unconfirmedGrowth(input);
  if (!site) return { ...base, ...growth };
  return {
    ...base, kind: 'inconclusive', case: 'site-grows-unconfirmed', unconfirmed: confirmationOf(site, input, a),
    ...(growth.kind === 'fragmentation' ? { otherwise: growth.case, ...(growth.largest ? { largest: growth.largest } : {}) } : {}),
  };
}

/** What it would take to confirm `site`'s rise as a leak. */
function confirmationOf(site: SiteReport, input: VerdictInput, a: MemoryAccounting | undefined): NonNullable<VerdictDecision['unconfirmed']> {
  const detectable = input.detection?.rateBytesPerHour;
  const rate = site.leakRateBytesPerHour;
  const sampleBytes = Math.max(input.sampleIntervalBytes ?? 1, 1);
  const interval = input.snapshotIntervalSec;
  const duration = interval ? durationToDetectSec({ rateBytesPerHour: rate, snapshotIntervalSec: interval, sampleIntervalBytes: sampleBytes }) : Infinity;
  const span = input.detection?.spanSec ?? (a ? a.toSec - a.fromSec : input.durationSec);
  const finer = sampleBytesToDetect({ rateBytesPerHour: rate, durationSec: span, snapshots: input.detection?.snapshots ?? input.snapshotCount });
  return {
    site,
    ...(detectable !== undefined && Number.isFinite(detectable) && detectable > rate ? { detectableRateBytesPerHour: detectable } : {}),
    ...(Number.isFinite(duration) ? { durationSec: duration + (interval ?? 0) } : {}),
    ...(finer > 0 && finer < sampleBytes ? { sampleBytes: finer } : {}),
  };
}
