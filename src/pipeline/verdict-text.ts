/**
 * The verdict's sentences, as report.json carries them: the one-line summary, the figures it rests on (evidence),
 * what to do (remedies) and what the run did not measure. The decision itself is analyse/verdict.ts's.
 */
import {
  accountingRow, EXPLAINS_SHARE, MIN_SNAPSHOTS_FOR_TREND, siteKindTag, type AccountingPart, type AccountingRow, type MemoryAccounting, type VerdictDecision,
} from '../analyse/index.js';
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import type { VerdictDetail } from './model.js';

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

function noGrowthSummary(d: VerdictDecision): string {
  return `no call site's live native memory grows significantly over ${formatDurationMs(d.durationSec * 1000)} (${d.snapshotCount} snapshots); live malloc ${formatBytes(d.liveEndBytes)}`;
}

/** The verdict in words, as report.json carries it. */
export function verdictDetail(d: VerdictDecision): VerdictDetail {
  const a = d.accounting;
  if (d.case === 'too-few-snapshots') {
    return {
      kind: d.kind,
      summary: `only ${d.snapshotCount} snapshot(s) in ${formatDurationMs(d.durationSec * 1000)}: a trend needs at least ${MIN_SNAPSHOTS_FOR_TREND}; run longer (--duration) or snapshot more often (--interval)`,
    };
  }
  if (d.case === 'sites-grow') {
    const top = d.growing[0]!;
    return {
      kind: d.kind,
      summary: `native memory leaks: ${d.growing.length} call site(s) grow; the top one, ${top.function}${siteKindTag(top.kind)}, at ${formatRate(top.leakRateBytesPerHour)} (${formatBytes(top.growthBytes)} over the run, confidence ${top.confidence.toFixed(2)})`,
      ...(a ? { evidence: [`RSS ${formatBytes(a.rss.startBytes)} → ${formatBytes(a.rss.endBytes)} (${signed(a.rss.growthBytes)}) over ${windowText(a)}`, ...a.rows.map((r) => rowLine(r, a.rss.growthBytes))] } : {}),
    };
  }
  if (!a) return { kind: d.kind, summary: noGrowthSummary(d) };
  return withAccounting(d, a);
}

/** The cases decided from where the RSS went. */
function withAccounting(d: VerdictDecision, a: MemoryAccounting): VerdictDetail {
  // (a damaged run.json may hold anything as its command: only a list of words is quoted back)
  const command = shellQuote(Array.isArray(d.command) ? d.command.map(String) : ['<command>']);
  const rss = a.rss;
  const rssLine = `RSS ${formatBytes(rss.startBytes)} → ${formatBytes(rss.endBytes)} (${signed(rss.growthBytes)}, ${formatRate(rss.growthBytesPerHour)}) over ${windowText(a)}`;
  const evidence = [rssLine, ...a.rows.map((r) => rowLine(r, rss.growthBytes)),
    `live malloc trend: ${formatRate(a.liveTrend.rateBytesPerHour)}, confidence ${a.liveTrend.confidence.toFixed(2)} (${a.liveTrend.shape})`];
  const trim = d.trimProbe;
  if (trim) {
    evidence.push(`trim probe at ${trim.timeSec.toFixed(1)}s: malloc_trim(0) took RSS from ${formatBytes(trim.rssBeforeBytes)} to ${formatBytes(trim.rssAfterBytes)}, giving back ${formatBytes(trim.releasedBytes)}`);
  }
  const live = accountingRow(a, 'live-malloc');
  const liveText = live ? `${formatBytes(live.startBytes)} → ${formatBytes(live.endBytes)}` : 'not measured';
  const largest = d.largest!;

  switch (d.case) {
    case 'rss-flat':
      return { kind: d.kind, summary: `${noGrowthSummary(d)}; RSS ${formatBytes(rss.startBytes)} → ${formatBytes(rss.endBytes)}`, evidence };
    case 'java-heap': {
      const used = a.javaHeapUsed ? `, used ${formatBytes(a.javaHeapUsed.startBytes)} → ${formatBytes(a.javaHeapUsed.endBytes)}` : '';
      return {
        kind: d.kind,
        summary: `the Java heap grows, not native memory: committed ${formatBytes(largest.startBytes)} → ${formatBytes(largest.endBytes)} (${signed(largest.growthBytes)}${used}) `
          + `against RSS ${signed(rss.growthBytes)}; live malloc ${liveText}, no call site grows`,
        evidence,
        remedies: [
          'what holds it: jcmd <pid> GC.class_histogram, or a heap dump: jcmd <pid> GC.heap_dump /tmp/heap.hprof (open it in Eclipse MAT or VisualVM)',
          'a heap that is allowed to grow will: -Xmx caps it (the JVM commits up to -Xmx before it collects hard)',
        ],
      };
    }
    case 'jvm-internal': {
      const top = (a.nmtGrowth ?? []).filter((c) => c.growthBytes > 0).slice(0, 3)
        .map((c) => `${c.category} ${signed(c.growthBytes)}`).join(', ');
      return {
        kind: d.kind,
        summary: `the JVM's own memory grows: NMT committed outside the Java heap and malloc ${formatBytes(largest.startBytes)} → ${formatBytes(largest.endBytes)} `
          + `(${signed(largest.growthBytes)} of RSS ${signed(rss.growthBytes)})${top ? `, most in ${top}` : ''}; live malloc ${liveText}`,
        evidence: [...evidence, ...(a.nmtGrowth ?? []).slice(0, 6).map((c) => `NMT ${c.category}: ${formatBytes(c.startBytes)} → ${formatBytes(c.endBytes)} (${signed(c.growthBytes)})`)],
        remedies: [
          'where exactly: jcmd <pid> VM.native_memory baseline, later jcmd <pid> VM.native_memory summary.diff (detail.diff with -XX:NativeMemoryTracking=detail)',
          'Class/Metaspace growing: classes keep being loaded (class loader leak, generated proxies): -XX:MaxMetaspaceSize caps it; Thread: threads keep being created; Code: -XX:ReservedCodeCacheSize',
        ],
      };
    }
    case 'allocator-retained': {
      const retained = accountingRow(a, 'allocator-retained');
      const held = retained
        ? `the allocator holds ${formatBytes(retained.endBytes)} free but not returned to the OS (${signed(retained.growthBytes)}, ${percent(retained.growthBytes, rss.growthBytes)} of the RSS growth)`
        : `malloc_trim(0) gave back ${formatBytes(trim!.releasedBytes)}`;
      return {
        kind: d.kind,
        summary: `RSS grew ${signed(rss.growthBytes)} (${formatRate(rss.growthBytesPerHour)}) while live malloc stayed flat `
          + `(about ${formatBytes(a.liveMedianBytes)}, no significant trend, no call site grows): `
          + `${held}${retained && trim ? `; malloc_trim(0) gave back ${formatBytes(trim.releasedBytes)}` : ''} — fragmentation, not a leak`,
        evidence,
        remedies: fragmentationRemedies(a, command),
      };
    }
    case 'live-levelled-off':
      return {
        kind: d.kind,
        summary: `${noGrowthSummary(d)}; RSS grew ${signed(rss.growthBytes)} with live malloc (${liveText}), which levelled off: a cache or pool that filled`,
        evidence,
      };
    default:
      return unexplained(d, a, liveText, evidence);
  }
}

function unexplained(d: VerdictDecision, a: MemoryAccounting, liveText: string, evidence: string[]): VerdictDetail {
  const rss = a.rss;
  const largest = d.largest!;
  const missing = [...a.missing];
  const why = {
    'live-malloc-spread': `live malloc grows (${liveText}, confidence ${a.liveTrend.confidence.toFixed(2)}) but no single call site stands out: the growth is spread over many sites or below this run's detection limit (run longer or lower --sample-bytes)`,
    'outside-malloc-jvm-heap': `${formatBytes(largest.growthBytes)} of it is outside malloc and the parts measured: in a JVM most likely its Java heap, which jcmd did not give`,
    'outside-malloc': `${formatBytes(largest.growthBytes)} of it is outside malloc and the parts measured: mmap'd memory, thread stacks or code (/proc/<pid>/smaps shows which mappings)`,
    'no-part-explains': `the largest part, ${partLabel[largest.part]} (${signed(largest.growthBytes)}), explains less than ${Math.round(EXPLAINS_SHARE * 100)}% of it`,
  }[d.because ?? 'no-part-explains'];
  return {
    kind: d.kind,
    summary: `RSS grew ${signed(rss.growthBytes)} (${formatRate(rss.growthBytesPerHour)}) and no call site grows, but ${why}`
      + (missing.length > 0 ? `; not measured: ${missing.map((m) => m.split(':')[0]).join(', ')}` : ''),
    evidence,
    ...(missing.length > 0 ? { missing } : {}),
  };
}
