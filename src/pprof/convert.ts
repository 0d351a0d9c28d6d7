/**
 * A run's raw snapshots → symbolized pprof profiles on disk (DIR/snapshots/NNNN.pb.gz), and the same profiles in
 * columnar form for the analysis (pprof/series.ts), which sees exactly what the files hold.
 *
 * ProfileWriter takes a process's snapshots one at a time, as they are read, so a long run is never all in memory:
 *   - symbolization: only the pcs no earlier snapshot had are sent to the symbolize session (with the snapshot they
 *     first appear in, as the session would place them anyway: a captured pc keeps the meaning it had then);
 *   - encoding: HeapProfileEncoder, which reuses what the previous snapshot's profile already encoded;
 *   - compression and writing: in the background (zlib's thread pool), a few profiles at a time, while the next
 *     snapshot is read and encoded.
 */
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { makeRunSubdirectory, profileFileName } from '../rundir/index.js';
import { StackTable, type StackStore } from '../snapshot/tables.js';
import type { RawSnapshot, RawStack } from '../snapshot/types.js';
import { SymbolizeSession, type SymbolizeOptions } from '../symbolize/index.js';
import type { SymbolizedLocation } from '../symbolize/types.js';
import { writeProfileFile } from './build.js';
import { HeapProfileEncoder } from './encode.js';
import { ProfileSeriesBuilder, type ProfileSeries } from './series.js';

const gzipAsync = promisify(gzip);

/**
 * gzip level for the profiles. Level 1 compresses pprof data about 2.5× faster than zlib's default (6), to a file
 * about 6% larger: a run of hundreds of snapshots with tens of thousands of stacks is gigabytes of profile before
 * compression, and compressing it is most of the processing. (memLevel 9, zlib's largest hash table, is another
 * 10–15% faster for the same bytes.)
 */
export const PROFILE_GZIP_LEVEL = 1;

/**
 * Profiles waiting to be compressed and written: enough for this thread to run ahead of compression (and get on
 * with the analysis while the last profiles are compressed), few enough to bound the memory they hold.
 */
const WRITES_IN_FLIGHT = 8;
const BYTES_IN_FLIGHT = 32 << 20;

/** Time spent in each stage (ms, on the main thread), for `LEAKHUNT_TIMINGS`. */
export interface ConvertTimings {
  symbolizeMs: number;
  encodeMs: number;
  /** Waiting for compression and writes to catch up. */
  writeWaitMs: number;
  profileBytes: number;
  compressedBytes: number;
}


/** Converts one process's snapshots, in order; see the top of this file. Call converted(), written() and close() at the end. */
export class ProfileWriter {
  private readonly session: SymbolizeSession;
  private readonly encoder = new HeapProfileEncoder();
  readonly series: ProfileSeriesBuilder;
  readonly paths: string[] = [];
  readonly timings: ConvertTimings = { symbolizeMs: 0, encodeMs: 0, writeWaitMs: 0, profileBytes: 0, compressedBytes: 0 };
  /** Every pc symbolized so far, and where: the locations every profile is encoded from. */
  private readonly locations = new Map<bigint, SymbolizedLocation>();
  /** The stack table last looked at, and how many of its stacks had been: later snapshots only add to it. */
  private seenStore: StackStore | undefined;
  private seenStacks = 0;
  private lastMaps: string | undefined;
  private lastUnloaded: string | undefined;
  private readonly writes: Promise<void>[] = [];
  private bytesInFlight = 0;
  private failure: unknown;

  /** `series: false`: profiles only (a writer that runs as long as the target, and whose series nobody reads). */
  constructor(private readonly snapshotsDir: string, options: SymbolizeOptions = {}, private readonly keep: { series?: boolean } = {}) {
    makeRunSubdirectory(snapshotsDir);
    this.session = new SymbolizeSession(options);
    this.series = new ProfileSeriesBuilder(this.encoder.stacks, this.encoder.stackKinds);
  }

  /** The stacks of `raw` that no earlier snapshot had (all of them unless it extends the last table seen). */
  private newStacks(raw: RawSnapshot): Iterable<RawStack> {
    const stacks = raw.stacks;
    if (!(stacks instanceof StackTable)) return stacks.values();
    const from = stacks.store === this.seenStore && stacks.size >= this.seenStacks ? this.seenStacks : 0;
    this.seenStore = stacks.store;
    this.seenStacks = stacks.size;
    return stacks.store.stacks.slice(from, stacks.size);
  }

  private async symbolize(raw: RawSnapshot): Promise<void> {
    const pcs = new Set<bigint>();
    for (const stack of this.newStacks(raw)) for (const pc of stack.pcs) if (!this.locations.has(pc)) pcs.add(pc);
    const unloaded = raw.unloadedMaps ?? '';
    // Nothing new to place, and no mapping the session has not seen: its answer would be the same as before.
    if (pcs.size === 0 && raw.maps === this.lastMaps && unloaded === this.lastUnloaded) return;
    this.lastMaps = raw.maps;
    this.lastUnloaded = unloaded;
    const only: RawSnapshot = {
      path: raw.path, meta: raw.meta, counters: raw.counters, mallinfo: raw.mallinfo, memory: raw.memory, maps: raw.maps,
      unloadedMaps: unloaded, javaMethods: raw.javaMethods, sites: [], stacks: new Map([[0, { id: 0, pcs: [...pcs], javaFrames: [] }]]),
    };
    const symbolized = await this.session.symbolize(only);
    for (const [pc, location] of symbolized.locations) this.locations.set(pc, location);
  }

  /**
   * Symbolizes, encodes and (in the background) writes the next snapshot's profile; `timeSec` places it in the
   * series. `liveOnly`: the profile leaves out the stacks with nothing live (see BuildHeapProfileOptions).
   */
  async add(raw: RawSnapshot, timeSec: number, options: { liveOnly?: boolean } = {}): Promise<void> {
    if (this.failure) throw this.failure;
    let started = performance.now();
    await this.symbolize(raw);
    this.timings.symbolizeMs += performance.now() - started;

    started = performance.now();
    const meta = raw.meta;
    const encoded = this.encoder.encode({ raw, mappings: [], locations: this.locations, warnings: [] }, {
      timeNanos: meta.realtimeNs,
      // Its alloc_* values count from the process's start: so does its duration (not the gap since the snapshot before).
      durationNanos: meta.realtimeNs - meta.startRealtimeNs,
      ...(options.liveOnly ? { liveOnly: true } : {}),
    });
    if (this.keep.series !== false) {
      this.series.add({
        timeSec, stackOf: encoded.stackOf, inuse: encoded.inuse, objects: encoded.objects, oldestAgeMs: encoded.oldestAgeMs, meanAgeMs: encoded.meanAgeMs,
        allocBytes: encoded.allocBytes,
      }, encoded.firstSeenBytes);
    }
    this.timings.encodeMs += performance.now() - started;

    started = performance.now();
    while (this.writes.length >= WRITES_IN_FLIGHT || (this.writes.length > 0 && this.bytesInFlight + encoded.bytes.length > BYTES_IN_FLIGHT)) {
      await this.writes.shift();
    }
    const path = join(this.snapshotsDir, profileFileName(meta.sequence));
    this.paths.push(path);
    this.timings.profileBytes += encoded.bytes.length;
    const size = encoded.bytes.length;
    this.bytesInFlight += size;
    // One output chunk larger than any compressed profile: compressing it is then a single job on zlib's threads, which
    // does not wait for this (busy) thread between chunks.
    const chunkSize = Math.max(1 << 16, encoded.bytes.length + (encoded.bytes.length >> 4) + 1024);
    const write = gzipAsync(encoded.bytes, { level: PROFILE_GZIP_LEVEL, memLevel: 9, chunkSize }).then(async (compressed) => {
      this.encoder.recycle(encoded.bytes);
      this.timings.compressedBytes += compressed.length;
      await writeProfileFile(path, compressed);
    });
    // A failure is reported by the next add(), converted() or written(), not as an unhandled rejection meanwhile.
    write.catch((error: unknown) => { this.failure ??= error; }).finally(() => { this.bytesInFlight -= size; });
    this.writes.push(write.catch(() => {}));
    this.timings.writeWaitMs += performance.now() - started;
  }

  /**
   * Once every snapshot is added: the series and the symbolize session's warnings (each once). The last profiles may
   * still be being written: written() waits for them.
   */
  async converted(): Promise<{ series: ProfileSeries; paths: string[]; warnings: readonly string[] }> {
    if (this.failure) throw this.failure;
    return { series: this.series, paths: this.paths, warnings: await this.session.warnings() };
  }

  /** Waits for every profile to be written (a failure to write one throws here). */
  async written(): Promise<void> {
    const started = performance.now();
    await Promise.all(this.writes.splice(0));
    this.timings.writeWaitMs += performance.now() - started;
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    await Promise.all(this.writes.splice(0));
    await this.session.close();
  }
}
