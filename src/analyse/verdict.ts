/**
 * The one-line answer: is native memory leaking, and where — or, when RSS grows without a leak, where it went.
 *
 *   native-leak    call sites' live malloc grows (named, ranked)
 *   fragmentation  RSS and the allocator's free-but-kept memory grow while live malloc stays flat
 *   java-heap      the Java heap's committed size grows and explains the RSS growth
 *   jvm-internal   NMT shows the JVM's own memory (classes, threads, code, GC) growing
 *   no-growth      nothing grows: no site, and RSS does not grow materially (or only with live malloc that levelled off)
 *   inconclusive   too few snapshots, or RSS grows where this run could not see (and what it was missing)
 *
 * The decision is data — which case, which part, which sites; its sentences are written in report.json by the
 * pipeline (pipeline/verdict-text.ts).
 */
import type { AccountingPart, AccountingRow, MemoryAccounting, TrimProbe } from './accounting.js';
import type { MemoryGrowth, SiteReport, VerdictKind } from './types.js';

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
}

/** Which way the decision went: each case is one kind, and one wording. */
export type VerdictCase =
  /** inconclusive: fewer than MIN_SNAPSHOTS_FOR_TREND snapshots. */
  | 'too-few-snapshots'
  /** native-leak: call sites grow. */
  | 'sites-grow'
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
  /** inconclusive: RSS grows and nothing measured explains it. */
  | 'rss-unexplained';

/** Why RSS growth is unexplained (rss-unexplained). */
export type UnexplainedBecause =
  /** Live malloc grows, but no single site stands out. */
  | 'live-malloc-spread'
  /** Outside malloc and the measured parts, in a JVM whose heap jcmd did not give. */
  | 'outside-malloc-jvm-heap'
  /** Outside malloc and the measured parts. */
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
  accounting?: MemoryAccounting;
  trimProbe: TrimProbe | null;
  command?: readonly string[];
  /** When RSS grows: the part that grew most. */
  largest?: AccountingRow;
  because?: UnexplainedBecause;
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

/** Which case holds when RSS grows materially and no call site does. */
function rssGrowthCase(a: MemoryAccounting, trim: TrimProbe | null): Pick<VerdictDecision, 'kind' | 'case' | 'largest' | 'because'> {
  const rss = a.rss;
  const largest = [...a.rows].sort((x, y) => y.growthBytes - x.growthBytes)[0];
  if (!largest) return { kind: 'inconclusive', case: 'rss-unexplained', because: 'no-part-explains' };
  const explains = (part: AccountingPart) => largest.part === part && largest.growthBytes >= EXPLAINS_SHARE * rss.growthBytes;
  const liveGrowing = liveGrows(a);
  if (explains('java-heap')) return { kind: 'java-heap', case: 'java-heap', largest };
  if (explains('jvm-internal')) return { kind: 'jvm-internal', case: 'jvm-internal', largest };
  const retained = accountingRow(a, 'allocator-retained');
  const trimExplains = trim !== null && trim.releasedBytes >= EXPLAINS_SHARE * rss.growthBytes;
  if (!liveGrowing && (explains('allocator-retained') || (trimExplains && !retained))) {
    return { kind: 'fragmentation', case: 'allocator-retained', largest };
  }
  if (largest.part === 'live-malloc' && !liveGrowing) return { kind: 'no-growth', case: 'live-levelled-off', largest };
  const because: UnexplainedBecause = largest.part === 'live-malloc' ? 'live-malloc-spread'
    : largest.part !== 'other' ? 'no-part-explains'
      : a.jvm && !a.rows.some((r) => r.part === 'java-heap') ? 'outside-malloc-jvm-heap' : 'outside-malloc';
  return { kind: 'inconclusive', case: 'rss-unexplained', largest, because };
}

export function decideVerdict(input: VerdictInput): VerdictDecision {
  const a = input.accounting;
  const base = {
    snapshotCount: input.snapshotCount, durationSec: input.durationSec, liveEndBytes: input.memory.liveEndBytes,
    growing: input.sites.filter((s) => s.status === 'growing'), trimProbe: input.trimProbe ?? null,
    ...(a ? { accounting: a } : {}), ...(input.command ? { command: input.command } : {}),
  };
  if (input.snapshotCount < MIN_SNAPSHOTS_FOR_TREND) return { ...base, kind: 'inconclusive', case: 'too-few-snapshots' };
  if (base.growing.length > 0) return { ...base, kind: 'native-leak', case: 'sites-grow' };
  if (!a) return { ...base, kind: 'no-growth', case: 'nothing-grows' };
  if (!rssGrows(a)) return { ...base, kind: 'no-growth', case: 'rss-flat' };
  return { ...base, ...rssGrowthCase(a, base.trimProbe) };
}
