/** Stage "pprof": a symbolized snapshot → a pprof heap profile, as `go tool pprof` and friends read them. */
import { gzipSync } from 'node:zlib';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { writeFileAtomicAsync } from '../rundir/index.js';
import { Function as ProfileFunction, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { parseMaps, type MemoryMapping } from '../symbolize/maps.js';
import type { SourceFrame, SymbolizedLocation, SymbolizedSnapshot } from '../symbolize/types.js';
import { javaSourceFrame, nativeFramesBeforeJava } from '../symbolize/java.js';
import type { JavaFrame, JavaMethod, SiteKind } from '../snapshot/types.js';

/** Sample value order; analysis code indexes values by these names (see read.ts), never by position. */
export const heapSampleTypes = [
  { type: 'alloc_objects', unit: 'count' },
  { type: 'alloc_space', unit: 'bytes' },
  { type: 'inuse_objects', unit: 'count' },
  { type: 'inuse_space', unit: 'bytes' },
] as const;

/**
 * A stack of mapped memory carries the string labels `kind` = `mmap` and `mapping` = `anon` or `file` (`go tool pprof
 * -tagfocus kind=mmap` shows them alone); a malloc stack carries neither.
 */
export const kindLabel = { key: 'kind', mmap: 'mmap', mappingKey: 'mapping', anon: 'anon', file: 'file' } as const;
/**
 * A sample's cumulative upscaled bytes of blocks counted at the first snapshot they were live in (native/FORMAT.md,
 * first_seen_bytes), the last of its labels, when above 0: with in-use bytes, it tells the births and deaths a site's
 * series saw (analyse/trend.ts, turnover).
 */
export const firstSeenLabel = 'first_seen_bytes';
/** The label strings every profile's string table starts with, in this order (encode.ts makes the same bytes). */
export const labelStrings = ['stack_id', 'oldest_live_age_ms', 'mean_live_age_ms', kindLabel.key, kindLabel.mmap, kindLabel.mappingKey,
  kindLabel.anon, kindLabel.file, firstSeenLabel] as const;

/** The first_seen_bytes a site's sample carries: rounded like the sample's values; 0 for none. */
export function firstSeenValue(firstSeenBytes: number | undefined): number {
  const value = Math.round(firstSeenBytes ?? 0);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** A sample's site kind from its labels (absent: malloc, as in every profile that is not leakhunt's). */
export function siteKindOfLabels(labels: Readonly<Record<string, string | number>>): SiteKind {
  if (labels[kindLabel.key] !== kindLabel.mmap) return 'malloc';
  return labels[kindLabel.mappingKey] === kindLabel.file ? 'mmap-file' : 'mmap-anon';
}

/** Function names for samples whose native stack is empty, so their bytes still show up in totals. */
export const overflowStackFunctionName = '[stack table full]';
export const emptyStackFunctionName = '[no native frames]';

export interface BuildHeapProfileOptions {
  timeNanos: bigint;
  durationNanos?: bigint;
  /**
   * Leave out the stacks with nothing live (no live sample, no in-use bytes): most stacks of a long run, and so most
   * of its profiles' bytes. Their cumulative allocations are in the run's last profile, which keeps every stack.
   * The locations, functions and strings of every stack stay in the tables either way.
   */
  liveOnly?: boolean;
}

/** What liveOnly leaves out: a site with no live sample and no in-use bytes (as its sample's value would be). */
export function nothingLive(liveSamples: number, liveBytes: number): boolean {
  const inuse = Math.round(liveBytes);
  return liveSamples === 0 && !(Number.isFinite(inuse) && inuse !== 0);
}

/**
 * The mapping pprof should take for the program (it shows the first mapping as "File:" and looks the binary up by
 * it): the process's executable, by its executable segment — the lowest-addressed file-backed code that is not a
 * shared object (the kernel maps the program below the libraries; a JVM maps its heap and CDS archive lower still,
 * but not as code).
 */
export function mainExecutableMapping(mapsText: string): MemoryMapping | undefined {
  const code = parseMaps(mapsText).filter((m) => m.path.startsWith('/') && m.inode !== 0 && m.perms.includes('x'));
  return code.find((m) => !/\.so(\.[\d.]+)?$/.test(m.path)) ?? code[0];
}

/** Builds the Profile; every id is assigned in first-use order, so the same input encodes to the same bytes. */
export function buildHeapProfile(snap: SymbolizedSnapshot, opts: BuildHeapProfileOptions): Profile {
  const strings = new StringTable();
  const builder = new ProfileTables(strings);

  const samples: Sample[] = [];
  for (const text of labelStrings) strings.dedup(text);
  const stackIdKey = strings.dedup('stack_id');
  // Ages of the live blocks at snapshot time (ms), for the analysis's second signal: a leak's live blocks span the
  // run, churn's are all young, a filled cache's all old.
  const ageKeys = { oldest: strings.dedup('oldest_live_age_ms'), mean: strings.dedup('mean_live_age_ms') };
  const firstSeenKey = strings.dedup(firstSeenLabel);
  // The executable's mapping first, whatever library the first sampled frame is in: pprof's main binary.
  builder.mainMapping(snap.raw.maps);
  const kindOf = (kind: SiteKind | undefined): Label[] => (kind === undefined || kind === 'malloc' ? [] : [
    new Label({ key: strings.dedup(kindLabel.key), str: strings.dedup(kindLabel.mmap) }),
    new Label({ key: strings.dedup(kindLabel.mappingKey), str: strings.dedup(kind === 'mmap-file' ? kindLabel.file : kindLabel.anon) }),
  ]);
  const nowMs = Number(snap.raw.meta.monotonicNs - snap.raw.meta.startMonotonicNs) / 1e6;
  for (const site of snap.raw.sites) {
    const stack = snap.raw.stacks.get(site.stackId);
    const javaFrames = stack?.javaFrames ?? [];
    // Native frames innermost first, then the Java frames that called into them.
    const pcs = javaFrames.length > 0 ? nativeFramesBeforeJava(stack?.pcs ?? [], snap.locations) : stack?.pcs ?? [];
    const locationIds = [
      ...pcs.map((pc) => builder.locationFor(pc, snap.locations.get(pc))),
      ...javaFrames.map((frame) => builder.javaLocationFor(frame, snap.raw.javaMethods.get(frame.methodId))),
    ];
    if (locationIds.length === 0) {
      locationIds.push(builder.syntheticLocation(site.stackId === 0 ? overflowStackFunctionName : emptyStackFunctionName));
    }
    if (opts.liveOnly && nothingLive(site.liveSamples, site.liveBytes)) continue;
    samples.push(
      new Sample({
        locationId: locationIds,
        value: [Math.round(site.allocObjects), Math.round(site.allocBytes), Math.round(site.liveObjects), Math.round(site.liveBytes)],
        label: [
          new Label({ key: stackIdKey, num: site.stackId }),
          ...(site.liveSamples > 0 ? [
            new Label({ key: ageKeys.oldest, num: Math.max(0, Math.round(nowMs - site.oldestLiveMs)) }),
            new Label({ key: ageKeys.mean, num: Math.max(0, Math.round(nowMs - site.meanLiveMs)) }),
          ] : []),
          ...kindOf(site.kind),
          ...(firstSeenValue(site.firstSeenBytes) > 0 ? [new Label({ key: firstSeenKey, num: firstSeenValue(site.firstSeenBytes) })] : []),
        ],
      }),
    );
  }

  const meta = snap.raw.meta;
  return new Profile({
    sampleType: heapSampleTypes.map((t) => new ValueType({ type: strings.dedup(t.type), unit: strings.dedup(t.unit) })),
    sample: samples,
    mapping: builder.mappings(),
    location: builder.locations,
    function: builder.functions,
    stringTable: strings,
    timeNanos: opts.timeNanos,
    durationNanos: opts.durationNanos ?? 0n,
    periodType: new ValueType({ type: strings.dedup('space'), unit: strings.dedup('bytes') }),
    period: meta.sampleIntervalBytes,
    defaultSampleType: strings.dedup('inuse_space'),
    comment: [strings.dedup(`leakhunt snapshot: pid ${meta.pid}, sequence ${meta.sequence}`)],
  });
}

interface MappingEntry {
  mapping: Mapping;
  allFunctions: boolean;
  allFilenames: boolean;
  allLineNumbers: boolean;
}

/** The location, function and mapping tables, deduplicated as they fill. */
class ProfileTables {
  readonly locations: Location[] = [];
  readonly functions: ProfileFunction[] = [];
  private readonly locationIds = new Map<bigint | string, number>();
  private readonly functionIds = new Map<string, number>();
  private readonly mappingEntries = new Map<bigint, MappingEntry>();

  constructor(private readonly strings: StringTable) {}

  locationFor(pc: bigint, symbolized: SymbolizedLocation | undefined): number {
    let id = this.locationIds.get(pc);
    if (id !== undefined) return id;
    id = this.locations.length + 1;
    this.locationIds.set(pc, id);
    // pprof addresses point into the call instruction, as the symbolizer was asked about.
    const address = pc > 0n ? pc - 1n : pc;
    const frames = symbolized?.frames ?? [{ functionName: `0x${address.toString(16)}` }];
    const entry = symbolized?.mapping ? this.mappingFor(symbolized.mapping, symbolized.buildId) : undefined;
    if (entry) {
      const resolved = symbolized?.symbolized === true;
      entry.allFunctions &&= resolved;
      entry.allFilenames &&= resolved && frames.every((frame) => frame.fileName !== undefined);
      entry.allLineNumbers &&= resolved && frames.every((frame) => frame.line !== undefined);
    }
    this.locations.push(
      new Location({
        id,
        mappingId: entry ? entry.mapping.id : 0,
        address,
        // Innermost inline level first; the last Line is the function the code physically belongs to.
        line: frames.map((frame) => new Line({ functionId: this.functionFor(frame), line: frame.line ?? 0, column: frame.column ?? 0 })),
      }),
    );
    return id;
  }

  /** A Java frame: no mapping, no address; one per (method, bci). */
  javaLocationFor(frame: JavaFrame, method: JavaMethod | undefined): number {
    const key = `java:${frame.methodId}:${frame.bci}`;
    let id = this.locationIds.get(key);
    if (id !== undefined) return id;
    id = this.locations.length + 1;
    this.locationIds.set(key, id);
    const source = javaSourceFrame(frame, method);
    this.locations.push(new Location({ id, line: [new Line({ functionId: this.functionFor(source), line: source.line ?? 0 })] }));
    return id;
  }

  /** A location with no address, standing for a stack the shim could not record. */
  syntheticLocation(functionName: string): number {
    const key = `synthetic:${functionName}`;
    let id = this.locationIds.get(key);
    if (id !== undefined) return id;
    id = this.locations.length + 1;
    this.locationIds.set(key, id);
    this.locations.push(new Location({ id, line: [new Line({ functionId: this.functionFor({ functionName }) })] }));
    return id;
  }

  private functionFor(frame: SourceFrame): number {
    const key = `${frame.functionName}\0${frame.fileName ?? ''}`;
    let id = this.functionIds.get(key);
    if (id !== undefined) return id;
    id = this.functions.length + 1;
    this.functionIds.set(key, id);
    const name = this.strings.dedup(frame.functionName);
    this.functions.push(
      new ProfileFunction({ id, name, systemName: name, filename: frame.fileName === undefined ? 0 : this.strings.dedup(frame.fileName) }),
    );
    return id;
  }

  /** Registers the executable's mapping (mainExecutableMapping) before any other: it gets id 1. */
  mainMapping(mapsText: string): void {
    const main = mainExecutableMapping(mapsText);
    if (main) this.mappingFor(main, undefined);
  }

  /**
   * Only file-backed executable mappings become pprof mappings: those are what pprof can look symbols up in. The
   * build id comes with the first location that knows it (the main mapping is registered before any).
   */
  private mappingFor(memory: MemoryMapping, buildId: string | undefined): MappingEntry | undefined {
    if (!memory.path.startsWith('/') || memory.inode === 0 || !memory.perms.includes('x')) return undefined;
    let entry = this.mappingEntries.get(memory.startAddress);
    if (entry) {
      if (buildId && !entry.mapping.buildId) entry.mapping.buildId = this.strings.dedup(buildId);
      return entry;
    }
    entry = {
      mapping: new Mapping({
        id: this.mappingEntries.size + 1,
        memoryStart: memory.startAddress,
        memoryLimit: memory.endAddress,
        fileOffset: memory.fileOffset,
        filename: this.strings.dedup(memory.path),
        buildId: buildId ? this.strings.dedup(buildId) : 0,
      }),
      allFunctions: true,
      allFilenames: true,
      allLineNumbers: true,
    };
    this.mappingEntries.set(memory.startAddress, entry);
    return entry;
  }

  /** Mappings with their has* flags set from what every one of their locations turned out to have. */
  mappings(): Mapping[] {
    return [...this.mappingEntries.values()].map((entry) => {
      entry.mapping.hasFunctions = entry.allFunctions;
      entry.mapping.hasFilenames = entry.allFilenames;
      entry.mapping.hasLineNumbers = entry.allLineNumbers;
      // Both symbolizers expand inline levels, so symbolized locations carry every inline frame there is.
      entry.mapping.hasInlineFrames = entry.allFunctions;
      return entry.mapping;
    });
  }
}

export function encodeProfileGz(profile: Profile): Buffer {
  return gzipSync(profile.encode());
}

/** A profile, written whole or not at all; a failure is the user's disk (full, permissions): exit 2. */
export async function writeProfileFile(path: string, data: Uint8Array): Promise<void> {
  try {
    await writeFileAtomicAsync(path, data);
  } catch (error) {
    throw new LeakhuntError(`${path}: cannot write profile: ${(error as Error).message}`, ExitCode.usage);
  }
}

/** Writes the profile gzipped, whole or not at all. */
export async function writeProfileGz(path: string, profile: Profile): Promise<void> {
  await writeProfileFile(path, encodeProfileGz(profile));
}
