/**
 * The JVM's own view of its memory while it runs, gathered from the CLI — never from inside the target:
 *   - every snapshot interval, its hsperfdata counters (launch/hsperfdata.ts: heap used and committed, metaspace,
 *     class space, live threads), read from the file the JVM maps: no attach, no cost to the target;
 *   - once, the ranges only the JVM knows — its heap's reserved range and the code heaps' bounds — from `jcmd <pid>
 *     GC.heap_info` and `Compiler.codecache`, for the memory accounting to tell their resident pages apart (not
 *     VM.info, which prints the same and more, but costs the target 4 MiB of RSS for good: it loads the ELF symbol
 *     sections of libjvm.so to print them);
 *   - with --nmt, `jcmd <pid> VM.native_memory summary` every interval (NMT is only there);
 *   - a JVM without hsperfdata (-XX:-UsePerfData, -XX:+PerfDisableSharedMem): `jcmd <pid> GC.heap_info` every
 *     interval instead, as before, with a note — every call costs the target a little CPU.
 * Kept in the run directory as jvm.json (rundir/jvm.ts).
 *
 * The jcmd commands are asked over the JVM's attach socket (launch/hotspot-attach.ts: no jcmd JVM started each time).
 * Only a JVM is asked (its /proc/<pid>/maps maps libjvm.so), and only once it handles SIGQUIT: the first attach
 * sends one, which would kill a JVM still starting up. A failing attach is noted, never fatal.
 */
import { readFile } from 'node:fs/promises';
import { ThinnedSeries } from '../core/thinned-series.js';
import { JVM_STATS_SCHEMA, type AddressRange, type JvmRanges, type JvmSample, type JvmStats, type NmtSummary } from '../rundir/index.js';
import { findHsperfdata, jvmMemoryOf, readHsperfdata } from './hsperfdata.js';
import { askJvm, catchesSigquit } from './hotspot-attach.js';

const UNIT: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3 };

function bytes(value: string, unit: string): number {
  return Number(value) * (UNIT[unit.toUpperCase()] ?? 1);
}

/**
 * Java heap used and committed from `GC.heap_info`: the sum of its "total N, used M" lines (one for G1, young
 * and old generations for Serial and Parallel), ZGC's "used N, capacity M", Shenandoah's "N committed, M used".
 */
export function parseHeapInfo(text: string): { usedBytes: number; committedBytes: number } | undefined {
  let used = 0;
  let committed = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (/^\s*(Metaspace|class space)\b/.test(line)) continue;
    let m = /\btotal (\d+)([KMG]?), used (\d+)([KMG]?)/.exec(line);
    if (m) {
      committed += bytes(m[1]!, m[2]!);
      used += bytes(m[3]!, m[4]!);
      found = true;
      continue;
    }
    m = /\bused (\d+)([KMG]?), capacity (\d+)([KMG]?)/.exec(line);
    if (m) {
      used += bytes(m[1]!, m[2]!);
      committed += bytes(m[3]!, m[4]!);
      found = true;
      continue;
    }
    m = /\b(\d+)([KMG]?) committed, (\d+)([KMG]?) used/.exec(line);
    if (m) {
      committed += bytes(m[1]!, m[2]!);
      used += bytes(m[3]!, m[4]!);
      found = true;
    }
  }
  return found ? { usedBytes: used, committedBytes: committed } : undefined;
}

/** NMT's summary: total committed, its malloc part, and committed per category; undefined when NMT is off. */
export function parseNmtSummary(text: string): NmtSummary | undefined {
  const total = /^Total: reserved=(\d+)(KB|MB|GB|B)?, committed=(\d+)(KB|MB|GB|B)?/m.exec(text);
  if (!total) return undefined;
  const categories: Record<string, number> = {};
  let categoryMalloc = 0;
  for (const m of text.matchAll(/^-\s+(.+?) \(reserved=\d+(?:KB|MB|GB|B)?, committed=(\d+)(KB|MB|GB|B)?\)/gm)) {
    categories[m[1]!.trim()] = bytes(m[2]!, m[3] ?? 'KB');
  }
  for (const m of text.matchAll(/\((?:malloc|arena)=(\d+)(KB|MB|GB|B)?/g)) categoryMalloc += bytes(m[1]!, m[2] ?? 'KB');
  // A category's own lines follow its "- Name (…)" line up to the next one; its mmap'd part is "(mmap: …, committed=N)".
  const mmapCategories: Record<string, number> = {};
  for (const block of text.split(/^-\s+/m).slice(1)) {
    const name = /^(.+?) \(reserved=/.exec(block)?.[1]?.trim();
    const mmap = /\(mmap: reserved=\d+(?:KB|MB|GB|B)?, committed=(\d+)(KB|MB|GB|B)?/.exec(block);
    if (name && mmap) mmapCategories[name] = bytes(mmap[1]!, mmap[2] ?? 'KB');
  }
  // JDK 17.0.x and later print the malloc total under "Total:"; older ones only per category.
  const mallocTotal = /^\s+malloc: (\d+)(KB|MB|GB|B)?/m.exec(text);
  return {
    committedBytes: bytes(total[3]!, total[4] ?? 'KB'),
    mallocBytes: mallocTotal ? bytes(mallocTotal[1]!, mallocTotal[2] ?? 'KB') : categoryMalloc,
    javaHeapCommittedBytes: categories['Java Heap'] ?? 0,
    categories,
    mmapCategories,
  };
}

const hex = (text: string) => Number.parseInt(text, 16);

/**
 * The JVM's reserved ranges from `jcmd GC.heap_info` and `Compiler.codecache` (or VM.info, which prints the same lines
 * and a few more):
 *   Heap address: 0x00000000e0000000, size: 512 MB, …          the heap with compressed oops
 *    garbage-first heap   total 389120K, used 1972K [0x00000000e0000000, 0x0000000100000000)   (and each
 *                                                              generation's line for Serial and Parallel)
 *   Reserved region:\n - [0x…, 0x…)                             Shenandoah
 *    bounds [0x00007fb070ec7000, 0x00007fb071137000, 0x00007fb078400000]   each code heap: low, high, limit
 *   Compressed class space mapped at: 0x00007fb00c000000-0x00007fb04c000000, reserved size: 1073741824
 *   Card table byte_map: [0x00007fb086228000,0x00007fb086328000] _byte_map_base: …      the collector's structures
 *    Prev Bits: [0x00007fb085800000, 0x00007fb086000000)                                  (G1's marking bitmaps)
 * ZGC prints none of these: its heap is the mappings named memfd:java_heap (the accounting knows them by name).
 */
export function parseJvmRanges(text: string): Omit<JvmRanges, 'timeMs'> {
  const ranges: Omit<JvmRanges, 'timeMs'> = {};
  const address = /^Heap address: 0x([0-9a-f]+), size: (\d+) MB/m.exec(text);
  if (address) ranges.javaHeap = [{ start: hex(address[1]!), end: hex(address[1]!) + Number(address[2]) * 1024 * 1024 }];
  else {
    const heap: AddressRange[] = [];
    for (const m of text.matchAll(/^ \S.*\btotal \d+[KMG]?, used \d+[KMG]? \[0x([0-9a-f]+), (?:0x[0-9a-f]+, )?0x([0-9a-f]+)\)/gm)) {
      heap.push({ start: hex(m[1]!), end: hex(m[2]!) });
    }
    const shenandoah = /Reserved region:\s*\n\s*- \[0x([0-9a-f]+), 0x([0-9a-f]+)\)/.exec(text);
    if (shenandoah) heap.push({ start: hex(shenandoah[1]!), end: hex(shenandoah[2]!) });
    if (heap.length > 0) ranges.javaHeap = heap;
  }
  const code = [...text.matchAll(/^ bounds \[0x([0-9a-f]+), 0x[0-9a-f]+, 0x([0-9a-f]+)\]/gm)].map((m) => ({ start: hex(m[1]!), end: hex(m[2]!) }));
  if (code.length > 0) ranges.codeCache = code;
  const classSpace = /^Compressed class space mapped at: 0x([0-9a-f]+)-0x([0-9a-f]+)/m.exec(text);
  if (classSpace) ranges.classSpace = { start: hex(classSpace[1]!), end: hex(classSpace[2]!) };
  const gc = [...text.matchAll(/^(?:Card table byte_map: |\s*(?:Prev|Next|Mark) Bits: )\[0x([0-9a-f]+), ?0x([0-9a-f]+)[\])]/gm)]
    .map((m) => ({ start: hex(m[1]!), end: hex(m[2]!) }));
  if (gc.length > 0) ranges.gcStructures = gc;
  for (const list of [ranges.javaHeap, ranges.codeCache, ranges.gcStructures]) list?.sort((a, b) => a.start - b.start);
  return ranges;
}

/** The libjvm.so a process has mapped, if it is a JVM. */
export function libjvmOf(maps: string): string | undefined {
  return /\s(\/\S*\/libjvm\.so)$/m.exec(maps)?.[1];
}

export interface JvmPollerOptions {
  intervalMs: number;
  /** Ask NMT too (the target was started with -XX:NativeMemoryTracking=summary). */
  nmt: boolean;
  /** The run's start, for sample times. */
  startedAtMs: number;
}

export interface JvmPoller {
  /** Stops polling (after the call under way) and returns what was gathered; undefined when it never saw a JVM. */
  stop(): Promise<JvmStats | undefined>;
}

const MAX_FAILURES = 3;
/** JVM samples kept: one per snapshot interval, as many as the shim keeps snapshots by default and then some. */
const MAX_JVM_SAMPLES = 720;
/** What to ask for the ranges: two light commands (VM.info prints the same, at a cost to the target: see above). */
const RANGE_COMMANDS = [['GC.heap_info', 'Compiler.codecache']];

export function startJvmStatsPoller(pid: number, options: JvmPollerOptions): JvmPoller {
  const stats: JvmStats = { schema: JVM_STATS_SCHEMA, pid, nmt: options.nmt, samples: [], notes: [] };
  // Bounded for runs of days, thinned as the shim thins snapshots (they are matched up by time).
  const samples = new ThinnedSeries<JvmSample>(MAX_JVM_SAMPLES);
  let isJvm = false;
  let stopped = false;
  let perfPath: string | undefined;
  const failures = { ranges: 0, heap: 0 };
  let rangeCommands = 0;
  let timer: NodeJS.Timeout | undefined;
  const note = (text: string) => { if (!stats.notes.includes(text)) stats.notes.push(text); };
  const sinceStart = (ms: number) => ms - options.startedAtMs;

  const stillJvm = async () => libjvmOf(await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '')) !== undefined;

  /** The ranges, asked once (RANGE_COMMANDS). */
  const askRanges = async (): Promise<void> => {
    const commands = RANGE_COMMANDS[rangeCommands]!;
    const started = Date.now();
    const reply = await askJvm(pid, commands);
    const ranges = reply.ok ? parseJvmRanges(reply.output) : {};
    if (ranges.javaHeap || ranges.codeCache || ranges.classSpace || ranges.gcStructures) {
      stats.ranges = { timeMs: sinceStart(started), ...ranges };
      return;
    }
    if (!(await stillJvm())) return;
    if (reply.ok && rangeCommands + 1 < RANGE_COMMANDS.length) rangeCommands++;
    else if (++failures.ranges >= MAX_FAILURES) {
      note(`jcmd ${pid} ${commands.join(', ')} failed: ${reply.why}: the Java heap's, code cache's and class space's ranges are not known`);
    }
  };

  const poll = async (): Promise<void> => {
    const libjvm = libjvmOf(await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => ''));
    if (!libjvm) return;
    isJvm = true;
    const readAt = Date.now();
    perfPath ??= findHsperfdata(pid);
    const perf = perfPath ? jvmMemoryOf(readHsperfdata(perfPath) ?? new Map()) : undefined;
    const sample: JvmSample = { timeMs: sinceStart(readAt), ...(perf ?? {}) };
    if (perf) stats.source = 'hsperfdata';
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      if (!catchesSigquit(status)) return; // still starting up (or -Xrs): the attach's SIGQUIT would kill it
      if (!stats.ranges && failures.ranges < MAX_FAILURES) await askRanges();
      // A JVM that handles SIGQUIT has made its hsperfdata file long before, if it makes one.
      const heapByJcmd = !perfPath && failures.heap < MAX_FAILURES;
      if (heapByJcmd) note('the JVM keeps no hsperfdata (-XX:-UsePerfData or -XX:+PerfDisableSharedMem): its heap figures come from jcmd GC.heap_info every interval, which costs it a little CPU each time');
      const commands = [...(heapByJcmd ? ['GC.heap_info'] : []), ...(options.nmt ? ['VM.native_memory summary'] : [])];
      if (commands.length === 0) return;
      const started = Date.now();
      const reply = await askJvm(pid, commands);
      const heap = heapByJcmd && reply.ok ? parseHeapInfo(reply.output) : undefined;
      if (heapByJcmd) {
        if (heap) {
          failures.heap = 0;
          stats.source = 'jcmd';
          Object.assign(sample, { timeMs: sinceStart((started + Date.now()) / 2), heapUsedBytes: heap.usedBytes, heapCommittedBytes: heap.committedBytes });
        } else if (await stillJvm()) {
          // A JVM that ended meanwhile is no failure of jcmd's.
          failures.heap++;
          note(`jcmd ${pid} GC.heap_info failed: ${reply.why}`);
        }
      }
      if (options.nmt && reply.ok) {
        const nmt = parseNmtSummary(reply.output);
        if (nmt) sample.nmt = nmt;
        else note('NMT is not on in the target (-XX:NativeMemoryTracking=summary did not reach it): no JVM-internal figures');
      }
    } finally {
      if (Object.keys(sample).length > 1) samples.push(sample);
    }
  };

  let running: Promise<void> = Promise.resolve();
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = poll().catch(() => undefined).then(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop(): Promise<JvmStats | undefined> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      return isJvm ? { ...stats, samples: samples.values() } : undefined;
    },
  };
}
