/**
 * The verdict's sentences, as report.json carries them: the one-line summary, the figures it rests on (evidence),
 * what to do (remedies) and what the run did not measure. The decision itself is analyse/verdict.ts's.
 */
import {
  abbreviateTemplates, accountingRow, EXPLAINS_SHARE, MIN_SNAPSHOTS_FOR_TREND, OTHER_FILES, siteKindTag, unseenGrows, type AccountingPart, type AccountingRow,
  type MemoryAccounting, type UnseenCheck, type UnseenGrowth, type UnseenUnavailable, type VerdictDecision,
} from '../analyse/index.js';
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import type { VerdictDetail } from './model.js';

/** A part as the accounting tables name it (README "Where did the RSS go?"). */
export const partLabel: Record<AccountingPart, string> = {
  'live-malloc': 'live malloc', 'unseen-malloc': 'malloc unseen by the shim', 'allocator-retained': 'allocator-retained',
  'java-heap': 'Java heap (resident)', 'jvm-metaspace': 'metaspace, class space', 'jvm-code-cache': 'JIT code cache',
  'jvm-internal': 'JVM-internal', 'thread-stacks': 'thread stacks', 'file-mapped': 'mapped files', 'anon-mmap': 'anonymous mmap',
  'leakhunt-shim': "leakhunt's shim", unaccounted: 'unaccounted',
};

/** An attached run's "tracking since", as every report says it; '' for a run leakhunt started. */
export function trackingSinceSentence(trackingSince: string | undefined): string {
  return trackingSince ? `tracking since ${trackingSince} (attached to a running process: what it allocated before is not seen; rates are from then)` : '';
}

/** Where the report's rates start, as the reports say it: "from 8.1s (the start-up's RSS climb left out)". */
export function windowSentence(window: { fromSec: number; leftOut: string } | undefined): string {
  if (!window || window.leftOut === 'nothing') return '';
  const why = { 'warmup-option': '--warmup', 'live-warmup': "the start-up's malloc warm-up", 'rss-climb': "the start-up's RSS climb" }[window.leftOut] ?? 'the start-up';
  return `from ${window.fromSec.toFixed(1)}s (${why} left out)`;
}

/** A part in the words of a sentence. */
const partWords: Record<AccountingPart, string> = {
  'live-malloc': 'live malloc', 'unseen-malloc': 'malloc the shim did not see', 'allocator-retained': 'memory the allocator keeps free',
  'java-heap': 'the Java heap', 'jvm-metaspace': 'the metaspace (class metadata)', 'jvm-code-cache': "the JIT's code cache",
  'jvm-internal': "the JVM's own memory (GC structures, NMT)", 'thread-stacks': 'thread stacks', 'file-mapped': 'mapped files',
  'anon-mmap': "anonymous mmap'd memory", 'leakhunt-shim': "leakhunt's own shim", unaccounted: 'memory no part accounts for',
};

/** The largest part in words; for mapped files, the file that grew most. */
function largestWords(a: MemoryAccounting, row: AccountingRow): string {
  if (row.part !== 'file-mapped') return partWords[row.part];
  const file = [...a.files].sort((x, y) => (y.endBytes - y.startBytes) - (x.endBytes - x.startBytes))[0];
  return file && file.path !== OTHER_FILES && file.endBytes > file.startBytes ? `mapped file ${file.path}` : 'mapped files';
}

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

/** Besides the rows: the mapped files, the thread counts, how the table was drawn. */
function accountingDetails(a: MemoryAccounting): string[] {
  const lines = a.files.filter((f) => f.endBytes > 0 || f.startBytes > 0)
    .map((f) => `mapped file ${f.path}: ${formatBytes(f.startBytes)} → ${formatBytes(f.endBytes)} (${signed(f.endBytes - f.startBytes)})`);
  if (a.threadStacks) lines.push(`thread stacks: ${a.threadStacks.start} → ${a.threadStacks.end}${a.javaThreads ? `; live Java threads ${a.javaThreads.start} → ${a.javaThreads.end}` : ''}`);
  return [...lines, ...a.notes];
}

function accountingEvidence(a: MemoryAccounting): string[] {
  return [`RSS ${formatBytes(a.rss.startBytes)} → ${formatBytes(a.rss.endBytes)} (${signed(a.rss.growthBytes)}, ${formatRate(a.rss.growthBytesPerHour)}) over ${windowText(a)}`,
    ...a.rows.map((r) => rowLine(r, a.rss.growthBytes)), ...accountingDetails(a)];
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
    const unseen = unseenGrows(d.unseen) ? `; allocations the shim did not see grow too, at ${formatRate(d.unseen.rateBytesPerHour)} (${UNSEEN_CAUSES})` : '';
    const evidence = [
      ...(a ? accountingEvidence(a) : []),
      ...unseenEvidence(d.unseen),
    ];
    return {
      kind: d.kind,
      summary: `native memory leaks: ${d.growing.length} call site(s) grow; the top one, ${top.function}${siteKindTag(top.kind)}, at ${formatRate(top.leakRateBytesPerHour)} `
        + `(${signed(top.growthBytes)} ${d.windowFromSec !== undefined ? `from ${d.windowFromSec.toFixed(1)}s` : 'over the run'}, confidence ${top.confidence.toFixed(2)})${unseen}`,
      ...(evidence.length > 0 ? { evidence } : {}),
      ...(unseen ? { remedies: unseenRemedies() } : {}),
    };
  }
  if (d.case === 'unseen-grows') return unseenDetail(d);
  if (d.case === 'site-grows-unconfirmed') return unconfirmed(d);
  if (!a) return { kind: d.kind, summary: noGrowthSummary(d) };
  return withAccounting(d, a);
}

// ---- allocations the shim did not see (analyse/unseen.ts) ----

const UNSEEN_CAUSES = 'a library calls the allocator without going through malloc\'s symbol: a function pointer from dlsym on a libc handle, '
  + 'glibc\'s __libc_malloc, or a statically linked copy of the allocator\'s entry points';

const unseenUnavailableText: Record<UnseenUnavailable, string> = {
  allocator: 'the allocator gives no in-use figure the shim reads (only glibc and jemalloc do)',
  'no-usable-sizes': 'jemalloc, and these snapshots carry no usable sizes (its size classes make the requested sizes no estimate)',
  'no-figures': 'the snapshots carry no allocator figures',
  'too-few-snapshots': 'fewer than three snapshots with the allocator\'s figures',
};

/** The cross-check's figures, or why it was not made. */
function unseenEvidence(check: UnseenCheck | undefined): string[] {
  if (!check) return [];
  if (!check.available) return [`allocations the shim did not see: not checked — ${unseenUnavailableText[check.why]}`];
  const source = check.allocator === 'jemalloc' ? 'jemalloc\'s stats.allocated' : 'glibc\'s mallinfo2 in-use bytes';
  return [`allocations the shim did not see (${source} less the shim's estimate of them): ${formatBytes(check.startBytes)} → ${formatBytes(check.endBytes)}, `
    + `${formatRate(check.rateBytesPerHour)}, confidence ${check.confidence.toFixed(2)} (${check.shape})${check.fromUsableBytes ? '' : '; estimated from requested sizes (older snapshots)'}`];
}

function unseenRemedies(): string[] {
  return [
    'which objects call glibc\'s allocator by its internal names: for f in $(awk \'$6 ~ /^\\// {print $6}\' /proc/<pid>/maps | sort -u); '
      + 'do nm -D --undefined-only "$f" 2>/dev/null | grep -qE \'__libc_(malloc|calloc|realloc|memalign)\' && echo "$f"; done',
    'where the calls come from: perf probe -x $(awk \'$6 ~ /\\/libc[.-]/ {print $6; exit}\' /proc/<pid>/maps) malloc && '
      + 'perf record -e probe_libc:malloc --call-graph dwarf -p <pid> -- sleep 30 && perf report --stdio --no-children — '
      + 'the stacks that do not pass through libleakhunt.so bypass the shim (a malloc looked up with dlsym, __libc_malloc)',
  ];
}

function unseenDetail(d: VerdictDecision): VerdictDetail {
  const u = d.unseen as UnseenGrowth;
  const span = formatDurationMs((u.toSec - u.fromSec) * 1000);
  return {
    kind: d.kind,
    summary: `native memory leaks where no call site shows it: the allocator's in-use bytes that the shim did not see grow at ${formatRate(u.rateBytesPerHour)} `
      + `(${signed(u.growthBytes)} over ${span}, confidence ${u.confidence.toFixed(2)}) — ${UNSEEN_CAUSES}`,
    evidence: [
      ...(d.accounting ? [`RSS ${formatBytes(d.accounting.rss.startBytes)} → ${formatBytes(d.accounting.rss.endBytes)} (${signed(d.accounting.rss.growthBytes)}) over ${windowText(d.accounting)}`] : []),
      ...unseenEvidence(u),
      `live malloc the shim saw: ${formatBytes(d.liveEndBytes)} at the end; no call site grows`,
    ],
    remedies: unseenRemedies(),
  };
}

/** An unconfirmed rise in words — the site, how much, how fast, how sure — and what would confirm it. */
function unconfirmedRise(u: NonNullable<VerdictDecision['unconfirmed']>): { rise: string; remedies: string[] } {
  const site = u.site;
  const below = u.detectableRateBytesPerHour !== undefined ? `, below the ${formatRate(u.detectableRateBytesPerHour)} this run can confirm` : '';
  const remedies: string[] = [];
  if (u.durationSec !== undefined) {
    const duration = formatDurationMs(Math.ceil(u.durationSec) * 1000);
    remedies.push(`run at least ${duration} (--duration ${Math.ceil(u.durationSec)}s) at the same --sample-bytes and --interval`);
  }
  if (u.sampleBytes !== undefined) remedies.push(`or sample finer in a run as long: --sample-bytes ${u.sampleBytes}`);
  return {
    rise: `${site.function}${siteKindTag(site.kind)} ${signed(site.growthBytes)} (${formatRate(site.leakRateBytesPerHour)}, confidence ${site.confidence.toFixed(2)}${below})`,
    remedies,
  };
}

/** A site's live memory rises, but this run cannot confirm it: what it saw, and what would. */
function unconfirmed(d: VerdictDecision): VerdictDetail {
  const { rise, remedies } = unconfirmedRise(d.unconfirmed!);
  const a = d.accounting;
  // The trim probe's figure is the fragmentation case's strongest evidence: said here too, where that case is held back.
  const trimmed = d.trimProbe ? `; malloc_trim(0) gave back ${formatBytes(d.trimProbe.releasedBytes)}` : '';
  const retained = d.otherwise === 'allocator-retained' && d.largest && a
    ? `; RSS grew ${signed(a.rss.growthBytes)} meanwhile, ${percent(d.largest.growthBytes, a.rss.growthBytes)} of it ${partWords[d.largest.part]}`
      + `${trimmed} (fragmentation, but that does not rule out a leak)` : '';
  return {
    kind: d.kind,
    summary: `a call site's live native memory rises but this run cannot confirm a leak: ${rise}; no call site grows significantly${retained}`,
    ...(d.accounting ? { evidence: accountingEvidence(d.accounting) } : {}),
    ...(remedies.length > 0 ? { remedies } : {}),
  };
}

/** The cases decided from where the RSS went. */
function withAccounting(d: VerdictDecision, a: MemoryAccounting): VerdictDetail {
  // (a damaged run.json may hold anything as its command: only a list of words is quoted back)
  const command = shellQuote(Array.isArray(d.command) ? d.command.map(String) : ['<command>']);
  const rss = a.rss;
  const evidence = [...accountingEvidence(a),
    `live malloc trend: ${formatRate(a.liveTrend.rateBytesPerHour)}, confidence ${a.liveTrend.confidence.toFixed(2)} (${a.liveTrend.shape})`,
    ...unseenEvidence(d.unseen)];
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
      const used = a.javaHeapUsed ? `; used ${formatBytes(a.javaHeapUsed.startBytes)} → ${formatBytes(a.javaHeapUsed.endBytes)}` : '';
      // A native site rising beside it, unconfirmed, is said: "not native memory" would be more than the run knows.
      const beside = d.unconfirmed ? unconfirmedRise(d.unconfirmed) : undefined;
      const sites = beside ? `; a call site's native memory rises too, unconfirmed: ${beside.rise}` : ', no call site grows';
      return {
        kind: d.kind,
        summary: `the Java heap grows${beside ? '' : ', not native memory'}: its resident pages ${formatBytes(largest.startBytes)} → ${formatBytes(largest.endBytes)} `
          + `(${signed(largest.growthBytes)}, ${formatRate(largest.growthBytesPerHour)}, ${percent(largest.growthBytes, rss.growthBytes)} of RSS ${signed(rss.growthBytes)}${used}); live malloc ${liveText}${sites}`,
        evidence,
        remedies: [
          'what holds it: jcmd <pid> GC.class_histogram, or a heap dump: jcmd <pid> GC.heap_dump /tmp/heap.hprof (open it in Eclipse MAT or VisualVM)',
          'a heap that is allowed to grow will: -Xmx caps it (the JVM commits up to -Xmx before it collects hard)',
          ...(beside?.remedies.map((r) => `to confirm ${d.unconfirmed!.site.function}'s rise: ${r}`) ?? []),
        ],
      };
    }
    case 'jvm-internal': {
      const top = (a.nmtGrowth ?? []).filter((c) => c.growthBytes > 0).slice(0, 3)
        .map((c) => `${c.category} ${signed(c.growthBytes)}`).join(', ');
      return {
        kind: d.kind,
        summary: `the JVM's own memory grows: ${partWords['jvm-internal']} ${growthOf(a, largest)}${top ? `, NMT's largest growth in ${top}` : ''}; live malloc ${liveText}, no call site grows`,
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
    case 'thread-stacks':
    case 'jvm-part':
    case 'file-mapped':
    case 'anon-mmap':
    case 'unseen-malloc':
      return partGrows(d, a, largest, liveText, evidence);
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

/** The churning sites that carry the live growth, with how many blocks they held at the start and end. */
function churnText(d: VerdictDecision): string {
  return d.churning.slice(0, 3)
    .map((s) => `${abbreviateTemplates(s.function)} (${signed(s.growthBytes)}, ${Math.round(s.blocks?.countStart ?? 0)} → ${Math.round(s.blocks?.countEnd ?? 0)} blocks)`)
    .join(', ');
}

/** "<part> +g (rate), x% of RSS +G": the growth of the part that explains it. */
function growthOf(a: MemoryAccounting, row: AccountingRow): string {
  return `${formatBytes(row.startBytes)} → ${formatBytes(row.endBytes)} (${signed(row.growthBytes)}, ${formatRate(row.growthBytesPerHour)}, `
    + `${percent(row.growthBytes, a.rss.growthBytes)} of RSS ${signed(a.rss.growthBytes)})`;
}

/** The cases where one part named in words explains the RSS growth. */
function partGrows(d: VerdictDecision, a: MemoryAccounting, largest: AccountingRow, liveText: string, evidence: string[]): VerdictDetail {
  const words = largestWords(a, largest);
  const growth = growthOf(a, largest);
  const sites = `live malloc ${liveText}, no call site grows`;
  switch (d.case) {
    case 'thread-stacks': {
      const stacks = a.threadStacks ? `; ${a.threadStacks.start} → ${a.threadStacks.end} stacks` : '';
      const threads = a.javaThreads ? `, live Java threads ${a.javaThreads.start} → ${a.javaThreads.end}` : '';
      return {
        kind: d.kind,
        summary: `thread stacks grow: ${growth}${stacks}${threads} — threads are started and never end; ${sites}`,
        evidence,
        remedies: a.jvm
          ? ['which threads: jcmd <pid> Thread.print (or jstack <pid>) — a pool without a bound, or threads blocked forever', 'each Java thread keeps its stack (-Xss, 1 MiB by default) until it ends']
          : ['a thread that ends keeps its stack until it is joined: pthread_join() it, or create it detached', 'which threads: ls /proc/<pid>/task, or gdb -p <pid> -batch -ex "thread apply all bt"'],
      };
    }
    case 'jvm-part':
      return {
        kind: d.kind,
        summary: `the JVM's own memory grows: ${words} ${growth}; ${sites}`,
        evidence,
        remedies: largest.part === 'jvm-code-cache'
          ? ['the code cache fills with compiled code up to -XX:ReservedCodeCacheSize; jcmd <pid> Compiler.codecache shows it']
          : ['classes keep being loaded (a class loader leak, generated proxies or lambdas): jcmd <pid> VM.classloader_stats and GC.class_histogram show which', '-XX:MaxMetaspaceSize caps it'],
      };
    case 'file-mapped':
      return {
        kind: d.kind,
        summary: `no native memory grows: RSS grows by the pages of ${words} as it is read, ${growth} — file-backed pages the kernel takes back under memory pressure, not a leak; ${sites}`,
        evidence,
      };
    case 'unseen-malloc':
      return {
        kind: d.kind,
        summary: `native memory leaks in malloc the shim did not see: ${growth} (the allocator counts it in use; no sampled call site holds it)`,
        evidence,
      };
    default:
      return {
        kind: d.kind,
        summary: `native memory grows outside malloc: ${words} ${growth}, in mappings no allocator, JVM range or thread accounts for; ${sites}`,
        evidence,
        remedies: ['which mappings: /proc/<pid>/smaps (anonymous ones with a growing Rss); mmap() without munmap(), or a library\'s own allocator'],
      };
  }
}

/**
 * Anonymous mmap'd memory of a JVM without NMT: outside the parts placed by range — or, when the heap's range is not
 * known, with the Java heap among it (what the JVM's own figures say of the heap, without guessing).
 */
function anonymousInJvm(a: MemoryAccounting, largest: AccountingRow): string {
  const growth = formatBytes(largest.growthBytes);
  if (!a.missing.some((m) => m.startsWith('java-heap:'))) {
    return `${growth} of it is anonymous mmap'd memory outside the Java heap, the metaspace, the code cache and the thread stacks: the JVM's GC structures, or a native mmap — rerun with --nmt to tell them apart`;
  }
  const heap = a.javaHeapCommitted ?? a.javaHeapUsed;
  const said = heap
    ? `; the JVM says its heap's ${a.javaHeapCommitted ? 'committed' : 'used'} size went ${formatBytes(heap.startBytes)} → ${formatBytes(heap.endBytes)} (${signed(heap.endBytes - heap.startBytes)})`
    : '';
  return `${growth} of it is anonymous mmap'd memory, and the Java heap's pages are among it: its range is not known (jcmd could not tell it), `
    + `so the heap, the JVM's GC structures and a native mmap cannot be told apart${said} — let jcmd attach (the same user, no -XX:+DisableAttachMechanism) and rerun with --nmt`;
}

function unexplained(d: VerdictDecision, a: MemoryAccounting, liveText: string, evidence: string[]): VerdictDetail {
  const rss = a.rss;
  const largest = d.largest!;
  const missing = [...a.missing];
  const why = {
    'live-malloc-churn': `live malloc grows (${liveText}) with churn under rising load: ${churnText(d)} — the live blocks that carry their growth are all young and rise in number, not in size: more in flight, none kept (memory that follows the load, not a leak)`,
    'live-malloc-spread': `live malloc grows (${liveText}, confidence ${a.liveTrend.confidence.toFixed(2)}) but no single call site stands out: the growth is spread over many sites or below this run's detection limit (run longer or lower --sample-bytes)`,
    'anon-mmap-jvm': anonymousInJvm(a, largest),
    'anon-mmap-allocator': `${formatBytes(largest.growthBytes)} of it is anonymous mmap'd memory, where ${a.allocator ?? 'the allocator'} also keeps the memory it holds free, and it gives no figures: see whether it is the allocator with another (--allocator jemalloc, or none)`,
    'outside-malloc': `${formatBytes(largest.growthBytes)} of it is outside malloc and the parts measured (these snapshots carry no resident memory by mapping: the Java heap, thread stacks, mapped files and mmap'd memory are unaccounted)`,
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
