/**
 * The one-line answer: is native memory leaking, and where — or, when RSS grows without a leak, where it went.
 *
 *   native-leak    call sites' live malloc grows (named, ranked)
 *   fragmentation  RSS and the allocator's free-but-kept memory grow while live malloc stays flat
 *   java-heap      the Java heap's committed size grows and explains the RSS growth
 *   jvm-internal   NMT shows the JVM's own memory (classes, threads, code, GC) growing
 *   no-growth      nothing grows: no site, and RSS does not grow materially (or only with live malloc that levelled off)
 *   inconclusive   too few snapshots, or RSS grows where this run could not see (and what it was missing)
 */
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import type { AccountingPart, AccountingRow, MemoryAccounting, TrimProbe } from './accounting.js';
import type { MemoryGrowth, SiteReport, Verdict } from './types.js';

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

export interface VerdictDetail extends Verdict {
  /** The figures the verdict rests on. */
  evidence?: string[];
  /** What to do about it, with the commands. */
  remedies?: string[];
  /** What the run did not measure (inconclusive). */
  missing?: string[];
}

const partLabel: Record<AccountingPart, string> = {
  'live-malloc': 'live malloc', 'allocator-retained': 'allocator-retained (free, not returned)', 'java-heap': 'Java heap (committed)',
  'jvm-internal': 'JVM-internal (NMT, outside heap and malloc)', 'leakhunt-shim': "leakhunt's shim", other: 'other (mmap, stacks, code)',
};

function signed(bytes: number): string {
  return `${bytes >= 0 ? '+' : '−'}${formatBytes(Math.abs(bytes))}`;
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((100 * part) / whole)}%` : '–';
}

/** A command line as a shell would take it back. */
export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function rowLine(row: AccountingRow, rssGrowth: number): string {
  return `${partLabel[row.part]}: ${formatBytes(row.startBytes)} → ${formatBytes(row.endBytes)} (${signed(row.growthBytes)}, `
    + `${formatRate(row.growthBytesPerHour)}; ${percent(row.growthBytes, rssGrowth)} of the RSS growth)`;
}

function windowText(a: MemoryAccounting): string {
  return `${a.snapshots} snapshots from ${a.fromSec.toFixed(1)}s to ${a.toSec.toFixed(1)}s`;
}

function fragmentationRemedies(a: MemoryAccounting, command: string): string[] {
  const remedies: string[] = [];
  if (a.allocator === 'jemalloc') {
    remedies.push(`have jemalloc return free pages sooner: MALLOC_CONF=dirty_decay_ms:1000,muzzy_decay_ms:0 ${command}`);
    remedies.push(`or fewer jemalloc arenas: MALLOC_CONF=narenas:2 ${command}`);
    return remedies;
  }
  remedies.push(`see whether another allocator keeps RSS flat: leakhunt run --allocator jemalloc -- ${command}`
    + ' (or --allocator tcmalloc); in production preload it: LD_PRELOAD=libjemalloc.so.2 (apt-get install libjemalloc2)');
  if (a.allocator !== 'tcmalloc') {
    remedies.push(`fewer glibc arenas keep less free memory: MALLOC_ARENA_MAX=2 ${command}`);
    if (a.jvm) {
      remedies.push('give it back now: jcmd <pid> System.trim_native_heap (JDK 17.0.9+, 21.0.1+, 22+)');
      remedies.push('or every minute: java -XX:+UnlockExperimentalVMOptions -XX:TrimNativeHeapInterval=60000 … (JDK 17.0.9+ and 21.0.1+; '
        + 'a product flag from JDK 22; java -XX:+UnlockExperimentalVMOptions -XX:+PrintFlagsFinal -version | grep TrimNativeHeap shows whether yours has it)');
    } else {
      remedies.push('or give it back from the program: call malloc_trim(0) after freeing a large batch');
    }
  }
  return remedies;
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

function noGrowthSummary(input: VerdictInput): string {
  return `no call site's live native memory grows significantly over ${formatDurationMs(input.durationSec * 1000)} (${input.snapshotCount} snapshots); live malloc ${formatBytes(input.memory.liveEndBytes)}`;
}

export function decideVerdict(input: VerdictInput): VerdictDetail {
  const growing = input.sites.filter((s) => s.status === 'growing');
  if (input.snapshotCount < MIN_SNAPSHOTS_FOR_TREND) {
    return {
      kind: 'inconclusive',
      summary: `only ${input.snapshotCount} snapshot(s) in ${formatDurationMs(input.durationSec * 1000)}: a trend needs at least ${MIN_SNAPSHOTS_FOR_TREND}; run longer (--duration) or snapshot more often (--interval)`,
    };
  }
  const a = input.accounting;
  if (growing.length > 0) {
    const top = growing[0]!;
    return {
      kind: 'native-leak',
      summary: `native memory leaks: ${growing.length} call site(s) grow; the top one, ${top.function}, at ${formatRate(top.leakRateBytesPerHour)} (${formatBytes(top.growthBytes)} over the run, confidence ${top.confidence.toFixed(2)})`,
      ...(a ? { evidence: [`RSS ${formatBytes(a.rss.startBytes)} → ${formatBytes(a.rss.endBytes)} (${signed(a.rss.growthBytes)}) over ${windowText(a)}`, ...a.rows.map((r) => rowLine(r, a.rss.growthBytes))] } : {}),
    };
  }
  if (!a) return { kind: 'no-growth', summary: noGrowthSummary(input) };

  // (a damaged run.json may hold anything as its command: only a list of words is quoted back)
  const command = shellQuote(Array.isArray(input.command) ? input.command.map(String) : ['<command>']);
  const rss = a.rss;
  const rssLine = `RSS ${formatBytes(rss.startBytes)} → ${formatBytes(rss.endBytes)} (${signed(rss.growthBytes)}, ${formatRate(rss.growthBytesPerHour)}) over ${windowText(a)}`;
  const evidence = [rssLine, ...a.rows.map((r) => rowLine(r, rss.growthBytes)),
    `live malloc trend: ${formatRate(a.liveTrend.rateBytesPerHour)}, confidence ${a.liveTrend.confidence.toFixed(2)} (${a.liveTrend.shape})`];
  const trim = input.trimProbe ?? null;
  if (trim) {
    evidence.push(`trim probe at ${trim.timeSec.toFixed(1)}s: malloc_trim(0) took RSS from ${formatBytes(trim.rssBeforeBytes)} to ${formatBytes(trim.rssAfterBytes)}, giving back ${formatBytes(trim.releasedBytes)}`);
  }
  const row = (part: AccountingPart) => a.rows.find((r) => r.part === part);
  const live = row('live-malloc');
  const liveText = live ? `${formatBytes(live.startBytes)} → ${formatBytes(live.endBytes)}` : 'not measured';

  if (!rssGrows(a)) {
    return { kind: 'no-growth', summary: `${noGrowthSummary(input)}; RSS ${formatBytes(rss.startBytes)} → ${formatBytes(rss.endBytes)}`, evidence };
  }
  const largest = [...a.rows].sort((x, y) => y.growthBytes - x.growthBytes)[0]!;
  const explains = (part: AccountingPart) => largest.part === part && largest.growthBytes >= EXPLAINS_SHARE * rss.growthBytes;
  const liveGrowing = liveGrows(a);

  if (explains('java-heap')) {
    const heap = largest;
    const used = a.javaHeapUsed ? `, used ${formatBytes(a.javaHeapUsed.startBytes)} → ${formatBytes(a.javaHeapUsed.endBytes)}` : '';
    return {
      kind: 'java-heap',
      summary: `the Java heap grows, not native memory: committed ${formatBytes(heap.startBytes)} → ${formatBytes(heap.endBytes)} (${signed(heap.growthBytes)}${used}) `
        + `against RSS ${signed(rss.growthBytes)}; live malloc ${liveText}, no call site grows`,
      evidence,
      remedies: [
        'what holds it: jcmd <pid> GC.class_histogram, or a heap dump: jcmd <pid> GC.heap_dump /tmp/heap.hprof (open it in Eclipse MAT or VisualVM)',
        'a heap that is allowed to grow will: -Xmx caps it (the JVM commits up to -Xmx before it collects hard)',
      ],
    };
  }
  if (explains('jvm-internal')) {
    const internal = largest;
    const top = (a.nmtGrowth ?? []).filter((c) => c.growthBytes > 0).slice(0, 3)
      .map((c) => `${c.category} ${signed(c.growthBytes)}`).join(', ');
    return {
      kind: 'jvm-internal',
      summary: `the JVM's own memory grows: NMT committed outside the Java heap and malloc ${formatBytes(internal.startBytes)} → ${formatBytes(internal.endBytes)} `
        + `(${signed(internal.growthBytes)} of RSS ${signed(rss.growthBytes)})${top ? `, most in ${top}` : ''}; live malloc ${liveText}`,
      evidence: [...evidence, ...(a.nmtGrowth ?? []).slice(0, 6).map((c) => `NMT ${c.category}: ${formatBytes(c.startBytes)} → ${formatBytes(c.endBytes)} (${signed(c.growthBytes)})`)],
      remedies: [
        'where exactly: jcmd <pid> VM.native_memory baseline, later jcmd <pid> VM.native_memory summary.diff (detail.diff with -XX:NativeMemoryTracking=detail)',
        'Class/Metaspace growing: classes keep being loaded (class loader leak, generated proxies): -XX:MaxMetaspaceSize caps it; Thread: threads keep being created; Code: -XX:ReservedCodeCacheSize',
      ],
    };
  }
  const retained = row('allocator-retained');
  const trimExplains = trim !== null && trim.releasedBytes >= EXPLAINS_SHARE * rss.growthBytes;
  if (!liveGrowing && (explains('allocator-retained') || (trimExplains && !retained))) {
    const held = retained
      ? `the allocator holds ${formatBytes(retained.endBytes)} free but not returned to the OS (${signed(retained.growthBytes)}, ${percent(retained.growthBytes, rss.growthBytes)} of the RSS growth)`
      : `malloc_trim(0) gave back ${formatBytes(trim!.releasedBytes)}`;
    return {
      kind: 'fragmentation',
      summary: `RSS grew ${signed(rss.growthBytes)} (${formatRate(rss.growthBytesPerHour)}) while live malloc stayed flat `
        + `(about ${formatBytes(a.liveMedianBytes)}, no significant trend, no call site grows): `
        + `${held}${retained && trim ? `; malloc_trim(0) gave back ${formatBytes(trim.releasedBytes)}` : ''} — fragmentation, not a leak`,
      evidence,
      remedies: fragmentationRemedies(a, command),
    };
  }
  if (largest.part === 'live-malloc' && !liveGrowing) {
    return {
      kind: 'no-growth',
      summary: `${noGrowthSummary(input)}; RSS grew ${signed(rss.growthBytes)} with live malloc (${liveText}), which levelled off: a cache or pool that filled`,
      evidence,
    };
  }
  const missing = [...a.missing];
  let why: string;
  if (largest.part === 'live-malloc') {
    why = `live malloc grows (${liveText}, confidence ${a.liveTrend.confidence.toFixed(2)}) but no single call site stands out: the growth is spread over many sites or below this run's detection limit (run longer or lower --sample-bytes)`;
  } else if (largest.part === 'other') {
    why = a.jvm && !a.rows.some((r) => r.part === 'java-heap')
      ? `${formatBytes(largest.growthBytes)} of it is outside malloc and the parts measured: in a JVM most likely its Java heap, which jcmd did not give`
      : `${formatBytes(largest.growthBytes)} of it is outside malloc and the parts measured: mmap'd memory, thread stacks or code (/proc/<pid>/smaps shows which mappings)`;
  } else {
    why = `the largest part, ${partLabel[largest.part]} (${signed(largest.growthBytes)}), explains less than ${Math.round(EXPLAINS_SHARE * 100)}% of it`;
  }
  return {
    kind: 'inconclusive',
    summary: `RSS grew ${signed(rss.growthBytes)} (${formatRate(rss.growthBytesPerHour)}) and no call site grows, but ${why}`
      + (missing.length > 0 ? `; not measured: ${missing.map((m) => m.split(':')[0]).join(', ')}` : ''),
    evidence,
    ...(missing.length > 0 ? { missing } : {}),
  };
}
