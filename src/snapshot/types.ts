/** The decoded form of one raw snapshot file (native/FORMAT.md). */
import type { SiteTable } from './tables.js';

export interface SnapshotMeta {
  pid: number;
  sequence: number;
  realtimeNs: bigint;
  monotonicNs: bigint;
  startRealtimeNs: bigint;
  startMonotonicNs: bigint;
  baseSampleIntervalBytes: number;
  sampleIntervalBytes: number;
  isFinal: boolean;
  maxStackDepth: number;
  recordsEveryAllocation: boolean;
  /** Taken right after malloc_trim(0): the second snapshot of a trim probe. */
  afterTrim: boolean;
  /** The JVM agent is loaded in this process (META flags bit 2); false in a process that is no JVM. */
  agentLoaded: boolean;
  /** The agent can take Java stacks: VMInit reached and AsyncGetCallTrace found (bit 3). */
  agentSampling: boolean;
}

export interface ShimCounters {
  samples: number;
  sampledFrees: number;
  liveEntries: number;
  tableCapacity: number;
  tableDrops: number;
  thinnedEntries: number;
  thinningRounds: number;
  stackCount: number;
  stackCapacity: number;
  stackDrops: number;
  missedFrees: number;
  shimMappedBytes: number;
  snapshotsWritten: number;
  writeErrors: number;
  /** Samples that got Java frames from the JVM agent. */
  javaStacks: number;
  /** Samples on Java threads for which the JVM could not give a stack. */
  javaStackFailures: number;
  /** How much of shimMappedBytes is resident (0 in version 1 files). */
  shimResidentBytes: number;
  /** Java methods the agent resolved. */
  javaMethods: number;
  /** Sampled mappings tracked now (the reader gives 0 for files before version 3). */
  trackedMappings?: number;
  /** Sampled mappings not tracked because the mapping or stack table was full (0 before version 3). */
  mappingDrops?: number;
  /** Samples whose native stack the shim's own unwind tables captured, the rest went to libgcc (0 in files before the unwinder). */
  fastUnwinds: number;
  /** LEAKHUNT_UNWINDER=both: samples where the tables and libgcc found different frames (0 in files before the unwinder). */
  unwindMismatches: number;
}

/** glibc mallinfo2 figures, in bytes (counts for ordblks/smblks/hblks). */
export interface MallocInfo {
  available: boolean;
  arena: number;
  ordblks: number;
  smblks: number;
  hblks: number;
  hblkhd: number;
  usmblks: number;
  fsmblks: number;
  uordblks: number;
  fordblks: number;
  keepcost: number;
}

/** jemalloc's stats.* when the process runs on jemalloc (JEMALLOC record). */
export interface JemallocStats {
  allocatedBytes: number;
  activeBytes: number;
  residentBytes: number;
  mappedBytes: number;
  retainedBytes: number;
  metadataBytes: number;
}

export interface ProcessMemory {
  vmSizeBytes: number;
  vmRssBytes: number;
  rssAnonBytes: number;
  rssFileBytes: number;
  rssShmemBytes: number;
  vmHwmBytes: number;
}

/** A mapping's flags in the RESIDENT record (native/resident.h). */
export const ResidentFlag = {
  read: 1, write: 2, exec: 4, shared: 8, file: 16, heap: 32, stack: 64, special: 128,
} as const;

/** One mapping that held resident pages (RESIDENT record). */
export interface ResidentMapping {
  start: number;
  end: number;
  rssBytes: number;
  /** ResidentFlag bits. */
  flags: number;
  /** The size of an anonymous, inaccessible mapping ending where this one starts (a thread stack's guard), or 0. */
  guardBelowBytes: number;
  /** The same for one starting where this one ends: the reserved rest of a region committed from its start. */
  reservedAboveBytes: number;
}

/** Resident memory by mapping, from /proc/<pid>/smaps (RESIDENT record, type 11). */
export interface ResidentMemory {
  /** CPU time the shim spent reading smaps for this snapshot. */
  readCpuNs: number;
  /** The writing thread's CPU time so far (the writer thread's, but in the final snapshot the exiting thread's). */
  threadCpuNs: number;
  /** Σ Rss over every mapping. */
  totalRssBytes: number;
  /** VmRSS from /proc/<pid>/status read right before and right after the mappings. */
  statusRssBytes: [number, number];
  /** Mappings in smaps, resident or not. */
  mappingCount: number;
  /** Those with resident pages, in address order. */
  mappings: ResidentMapping[];
}

export interface JavaFrame {
  methodId: bigint;
  bci: number;
}

export interface RawStack {
  id: number;
  /** Return addresses, innermost first. */
  pcs: bigint[];
  /** Java frames, innermost first, after the native ones. */
  javaFrames: JavaFrame[];
}

/**
 * What a stack allocated (the SITES entry's kind; part of the stack's identity): blocks of the malloc family, or
 * mappings — anonymous memory, or a file's pages. Files before version 3 know malloc only.
 */
export type SiteKind = 'malloc' | 'mmap-anon' | 'mmap-file';
/** The kinds by the number the file gives them (native/FORMAT.md). */
export const SITE_KINDS: readonly SiteKind[] = ['malloc', 'mmap-anon', 'mmap-file'];

export interface SiteStats {
  stackId: number;
  /** Always set by the reader ('malloc' for files before version 3); absent means malloc. */
  kind?: SiteKind;
  liveSamples: number;
  liveSampledBytes: number;
  liveObjects: number;
  liveBytes: number;
  allocSamples: number;
  allocObjects: number;
  allocBytes: number;
  oldestLiveMs: number;
  newestLiveMs: number;
  meanLiveMs: number;
  /**
   * Upscaled bytes the allocator counts as in use for the live blocks (malloc: malloc_usable_size; mmap: whole
   * pages). Absent before version 3.
   */
  liveUsableBytes?: number;
  /**
   * Cumulative upscaled bytes of the stack's sampled blocks, each counted at the first snapshot it was live in: what
   * the stack's sampled estimate gained by births a snapshot saw. Absent in files whose site entries are 96 bytes.
   */
  firstSeenBytes?: number;
}

/** A resolved Java method (JAVA_METHODS record). */
export interface JavaMethod {
  methodId: bigint;
  /** JVM class signature, e.g. "Ljava/util/zip/Deflater;"; empty when the class was gone before it was resolved. */
  classSignature: string;
  name: string;
  sourceFile: string;
  /** (start bci, line) pairs, sorted by bci. */
  lines: [number, number][];
}

export interface RawSnapshot {
  path: string;
  meta: SnapshotMeta;
  counters: ShimCounters;
  mallinfo: MallocInfo;
  memory: ProcessMemory;
  /** /proc/<pid>/maps text at snapshot time. */
  maps: string;
  /** By stack id (a StackTable sharing its stacks with the process's other snapshots, when read as a series). */
  stacks: ReadonlyMap<number, RawStack>;
  sites: SiteStats[];
  /**
   * The sites as read from the file, when the snapshot was read as part of a series (SnapshotSeriesReader): the
   * same entries as `sites`, in the same order, without an object per site (`sites` is then made on first use).
   */
  siteTable?: SiteTable;
  javaMethods: Map<bigint, JavaMethod>;
  /** Present only when the process runs on jemalloc. */
  jemalloc?: JemallocStats;
  /** Executable segments of objects closed with dlclose(), as /proc/<pid>/maps lines ("" when none). */
  unloadedMaps: string;
  /** Resident memory by mapping, in the snapshots where the shim read smaps (and could). */
  resident?: ResidentMemory;
}
