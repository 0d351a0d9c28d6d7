/**
 * Stage "symbolize": raw snapshot pcs → functions, files and lines, inline levels included.
 * Addresses are resolved against the maps of the snapshot they came from, since every snapshot (and every
 * process of a run) may have its own layout.
 */
import { basename } from 'node:path';
import type { RawSnapshot } from '../snapshot/types.js';
import { readElfInfo } from './elf.js';
import { fileOffsetOf, findMapping, isExecutable, isFileBacked, objectRelativeAddress, parseMaps, type MemoryMapping } from './maps.js';
import { KeptObjects } from './objects.js';
import { perfMapFrame, type PerfMapSet } from './perfmap.js';
import { Symbolizer, type ObjectAddress, type SymbolizerOptions } from './symbolizer.js';
import type { SourceFrame, SymbolizedLocation, SymbolizedSnapshot } from './types.js';

export type { MemoryMapping } from './maps.js';
export { findMapping, parseMaps, symbolizerAddress } from './maps.js';
export { buildIdOf, KeptObjects } from './objects.js';
export { debugDirectories, findDebugFile, type DebugFile } from './debuginfo.js';
export { javaClassName, javaLineAt, javaSourceFrame, nativeFramesBeforeJava } from './java.js';
export {
  JVM_STUB_MARK, parsePerfMap, PerfMap, perfMapFrame, perfMapOrder, PerfMapSet, readPerfMaps, type PerfMapEntry, type TimedPerfMap,
} from './perfmap.js';
export { jvmAgentWarning, jvmAgentWarningFor, samplesFromJavaCode, type JvmAgentFacts } from './jvm-agent.js';
export type { SymbolizerBackend, SymbolizerOptions } from './symbolizer.js';
export type { SourceFrame, SymbolizedLocation, SymbolizedSnapshot } from './types.js';

export interface SymbolizeOptions extends SymbolizerOptions {
  /**
   * A run's objects/ directory: copies of objects deleted (or replaced) after the target loaded them, listed in
   * its index.json by the object keeper; such mappings are symbolized from their copy.
   */
  objectsDir?: string;
  /**
   * The process's perf maps (perfmaps/<pid>/): code-cache pcs (in no file-backed mapping) get the name of the
   * JIT-compiled method or JVM stub there. Such frames are only shown when the sample has no Java stack.
   */
  perfMaps?: PerfMapSet;
}

/**
 * Symbolizes many snapshots with one symbolizer process and one cache: a run has tens to hundreds of snapshots
 * that mostly share their pcs. Call close() when done (an idle session does not keep Node alive, though).
 */
export class SymbolizeSession {
  private symbolizer: Promise<Symbolizer> | undefined;
  private readonly keptObjects: KeptObjects | undefined;
  /** Executable file mappings of the snapshots seen so far, newest last: a library dlclose'd before the snapshot
   * that holds its pcs was written is found in the one before. Bounded: only mappings not already kept. */
  private readonly earlierMappings: MemoryMapping[] = [];
  /** The mapping each pc was first placed in. A captured stack never changes, so a pc keeps that meaning even
   * when its library is unloaded and another one is mapped at the same address later. */
  private readonly firstMappingOf = new Map<bigint, MemoryMapping>();
  /** The perf-map name each code-cache pc got in the first snapshot that held it (null: none). A stack is captured
   * once and kept, so its pcs mean what the code cache held then, even when the address is reused later. */
  private readonly perfMapFrameOf = new Map<bigint, SourceFrame | null>();

  constructor(private readonly options: SymbolizeOptions = {}) {
    this.keptObjects = options.objectsDir === undefined ? undefined : new KeptObjects(options.objectsDir);
  }

  /** Which tool does the work; opens it if not yet open. */
  async backend(): Promise<Symbolizer['backend']> {
    return (await this.open()).backend;
  }

  /** Every warning so far, each once. */
  async warnings(): Promise<readonly string[]> {
    return (await this.open()).warnings;
  }

  private open(): Promise<Symbolizer> {
    this.symbolizer ??= Symbolizer.open(this.options);
    return this.symbolizer;
  }

  async symbolize(snapshot: RawSnapshot): Promise<SymbolizedSnapshot> {
    const symbolizer = await this.open();
    this.keptObjects?.refresh();
    const mappings = parseMaps(snapshot.maps);
    this.rememberMappings(mappings);
    // Objects dlclose'd before this snapshot: their addresses resolve like those of earlier snapshots' objects.
    this.rememberMappings(parseMaps(snapshot.unloadedMaps ?? ''));
    const pcs = new Set<bigint>();
    for (const stack of snapshot.stacks.values()) for (const pc of stack.pcs) pcs.add(pc);

    const locations = new Map<bigint, SymbolizedLocation>();
    const requests: ObjectAddress[] = [];
    const requestPcs: bigint[] = [];
    /** The file to read for each pc placed in an object: the mapped path, or its kept copy. */
    const objectFiles = new Map<bigint, string>();
    for (const pc of pcs) {
      const location = this.placeLocation(pc, mappings, symbolizer, objectFiles);
      locations.set(pc, location);
      if (!location.mapping || !isFileBacked(location.mapping)) this.nameFromPerfMap(location, snapshot);
      // A return address outside executable memory is an unwinding artefact; symbolizing it would name a wrong
      // neighbouring function with confidence.
      if (location.mapping && location.objectAddress !== undefined && isExecutable(location.mapping)) {
        const objectPath = objectFiles.get(pc) ?? location.mapping.path;
        requests.push({
          objectPath, address: location.objectAddress, ...(objectPath !== location.mapping.path ? { originalPath: location.mapping.path } : {}),
        });
        requestPcs.push(pc);
      }
    }

    const answers = await symbolizer.symbolize(requests);
    answers.forEach((frames, i) => {
      if (frames.length === 0) return;
      const location = locations.get(requestPcs[i]!)!;
      const placeholder = location.frames[0]!.functionName;
      // Only file:line known (no symbol): the placeholder still says which object and where.
      location.frames = frames.map((frame): SourceFrame => (frame.functionName ? frame : { ...frame, functionName: placeholder }));
      location.symbolized = true;
    });
    return { raw: snapshot, mappings, locations, warnings: symbolizer.takeNewWarnings() };
  }

  /** A code-cache pc: the JIT-compiled method or JVM stub the perf map closest in time puts there. */
  private nameFromPerfMap(location: SymbolizedLocation, snapshot: RawSnapshot): void {
    const perfMaps = this.options.perfMaps;
    if (!perfMaps || perfMaps.size === 0) return;
    let frame = this.perfMapFrameOf.get(location.pc);
    if (frame === undefined) {
      const callAddress = location.pc > 0n ? location.pc - 1n : location.pc;
      const hit = perfMaps.lookup(callAddress, Number(snapshot.meta.realtimeNs / 1_000_000n));
      frame = hit ? perfMapFrame(hit.entry.name) : null;
      this.perfMapFrameOf.set(location.pc, frame);
    }
    if (frame) {
      location.frames = [frame];
      location.symbolized = true;
    }
  }

  /** The newest earlier executable file mapping holding `address` (for libraries unloaded since). */
  private earlierMapping(address: bigint): MemoryMapping | undefined {
    for (let i = this.earlierMappings.length - 1; i >= 0; i--) {
      const m = this.earlierMappings[i]!;
      if (address >= m.startAddress && address < m.endAddress) return m;
    }
    return undefined;
  }

  private rememberMappings(mappings: readonly MemoryMapping[]): void {
    const known = new Set(this.earlierMappings.map((m) => `${m.startAddress}:${m.path}:${m.inode}`));
    for (const m of mappings) {
      if (m.path.startsWith('/') && m.perms.includes('x') && !known.has(`${m.startAddress}:${m.path}:${m.inode}`)) {
        this.earlierMappings.push(m);
      }
    }
  }

  /** The mapping and object address of `pc`, with the placeholder frame used until (unless) symbols are found. */
  private placeLocation(
    pc: bigint, mappings: readonly MemoryMapping[], symbolizer: Symbolizer, objectFiles: Map<bigint, string>,
  ): SymbolizedLocation {
    // A return address points after the call; pc - 1 is inside it (and inside the caller's inline scope).
    const callAddress = pc > 0n ? pc - 1n : pc;
    const mapping = this.firstMappingOf.get(pc) ?? findMapping(mappings, callAddress) ?? this.earlierMapping(callAddress);
    if (mapping && !this.firstMappingOf.has(pc)) this.firstMappingOf.set(pc, mapping);
    if (!mapping) return { pc, frames: [{ functionName: `0x${callAddress.toString(16)}` }], symbolized: false };
    const location: SymbolizedLocation = { pc, mapping, frames: [], symbolized: false };
    // Anonymous memory (JIT code) has no object to be relative to; perf-map style tools name it by address.
    if (mapping.path === '') {
      location.frames = [{ functionName: `0x${callAddress.toString(16)}` }];
      return location;
    }
    const objectName = basename(mapping.path);
    if (!isFileBacked(mapping)) {
      location.frames = [{ functionName: `${objectName}+0x${(callAddress - mapping.startAddress).toString(16)}` }];
      return location;
    }
    const kept = this.keptObjects?.forMapping(mapping);
    const objectPath = kept ?? mapping.path;
    objectFiles.set(pc, objectPath);
    const elf = mapping.deleted && !kept ? undefined : readElfInfo(objectPath);
    if (mapping.deleted && !kept) {
      const why = this.keptObjects ? ', and no copy of it was kept while the target ran' : '';
      symbolizer.warn(`${mapping.path} was deleted or replaced after it was loaded${why}: its frames are shown as offsets`);
    } else if (!elf) symbolizer.warn(`${mapping.path} is not a readable ELF object: its frames are shown as offsets`);
    const objectAddress = elf ? objectRelativeAddress(mapping, callAddress, elf) : undefined;
    if (elf?.buildId) location.buildId = elf.buildId;
    if (objectAddress === undefined) {
      location.frames = [{ functionName: `${objectName}+0x${fileOffsetOf(mapping, callAddress).toString(16)}` }];
      return location;
    }
    location.objectAddress = objectAddress;
    location.frames = [{ functionName: `${objectName}+0x${objectAddress.toString(16)}` }];
    return location;
  }

  async close(): Promise<void> {
    const symbolizer = this.symbolizer;
    this.symbolizer = undefined;
    if (symbolizer) await (await symbolizer).close();
  }
}

/** Symbolizes one snapshot with a session of its own. */
export async function symbolizeSnapshot(snapshot: RawSnapshot, options?: SymbolizeOptions): Promise<SymbolizedSnapshot> {
  const session = new SymbolizeSession(options);
  try {
    return await session.symbolize(snapshot);
  } finally {
    await session.close();
  }
}
