/**
 * Batch symbolization of (object, address) pairs with a cache, over llvm-symbolizer when there is one, else GNU
 * addr2line, else nothing (callers then show `object+0xoffset`).
 */
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { addr2lineLookup } from './addr2line.js';
import { debugDirectories, findDebugFile, llvmDebugDirectoryArgs, type DebugFile } from './debuginfo.js';
import { readElfInfo } from './elf.js';
import { LlvmSymbolizerProcess, minimumLlvmVersion, type ObjectAddress } from './llvm.js';
import { findLlvmSymbolizer, findOnPath, llvmMajorVersion } from './tools.js';
import type { SourceFrame } from './types.js';

export type { ObjectAddress } from './llvm.js';

export type SymbolizerBackend = 'llvm-symbolizer' | 'addr2line' | 'none';

export interface SymbolizerOptions {
  /** 'auto' (default) takes the best one found; naming one makes its absence an error. */
  backend?: SymbolizerBackend | 'auto';
  /** Explicit path of the llvm-symbolizer or addr2line binary for the chosen backend. */
  toolPath?: string;
  /** How long one answer may take; default 120 s (the first lookup in a large object loads all its debug info). */
  responseTimeoutMs?: number;
  /**
   * Directories searched for separate debug info (by build id, and by .gnu_debuglink) after /usr/lib/debug;
   * default: $LEAKHUNT_DEBUG_DIRS, colon-separated.
   */
  debugDirs?: readonly string[];
}

const defaultResponseTimeoutMs = 120_000;
const maxRestarts = 3;
const addr2lineParallelism = 4;

const noSymbolizerWarning =
  'no symbolizer found (install llvm for llvm-symbolizer, or binutils for addr2line): frames are shown as object+offset';

export class Symbolizer {
  private readonly cache = new Map<string, Promise<SourceFrame[]>>();
  private readonly debugFiles = new Map<string, DebugFile | null>();
  private readonly allWarnings: string[] = [];
  private reported = 0;

  private constructor(
    private llvm: LlvmSymbolizerProcess | undefined,
    private readonly addr2linePath: string | undefined,
    private readonly responseTimeoutMs: number,
    private readonly debugDirs: readonly string[],
  ) {}

  static async open(options: SymbolizerOptions = {}): Promise<Symbolizer> {
    const backend = options.backend ?? 'auto';
    const responseTimeoutMs = options.responseTimeoutMs ?? defaultResponseTimeoutMs;
    const warnings: string[] = [];
    let llvmPath: string | undefined;
    let addr2linePath: string | undefined;

    if (backend === 'auto' || backend === 'llvm-symbolizer') {
      const candidate = backend === 'llvm-symbolizer' && options.toolPath ? findOnPath(options.toolPath) : findLlvmSymbolizer();
      const version = candidate ? await llvmMajorVersion(candidate) : undefined;
      if (candidate && (version === undefined || version >= minimumLlvmVersion)) llvmPath = candidate;
      else if (candidate) warnings.push(`${candidate} is LLVM ${version}; JSON output needs ${minimumLlvmVersion} or newer`);
      if (!llvmPath && backend === 'llvm-symbolizer') {
        throw new LeakhuntError(warnings[0] ?? `llvm-symbolizer not found${options.toolPath ? ` at ${options.toolPath}` : ' on PATH'}`, ExitCode.environment);
      }
    }
    // addr2line is kept even when llvm-symbolizer runs: it takes over if llvm-symbolizer keeps crashing.
    if (backend !== 'none') {
      addr2linePath = findOnPath(backend === 'addr2line' && options.toolPath ? options.toolPath : 'addr2line');
      if (!addr2linePath && backend === 'addr2line') {
        throw new LeakhuntError(`addr2line not found${options.toolPath ? ` at ${options.toolPath}` : ' on PATH'}`, ExitCode.environment);
      }
    }
    if (backend === 'auto' && !llvmPath && !addr2linePath) warnings.push(noSymbolizerWarning);

    const debugDirs = debugDirectories(options.debugDirs);
    const symbolizer = new Symbolizer(undefined, addr2linePath, responseTimeoutMs, debugDirs);
    if (llvmPath) {
      symbolizer.llvm = new LlvmSymbolizerProcess(llvmPath, {
        responseTimeoutMs,
        maxRestarts,
        warn: (message) => symbolizer.warn(message),
        extraArgs: llvmDebugDirectoryArgs(debugDirs),
      });
    }
    for (const warning of warnings) symbolizer.warn(warning);
    return symbolizer;
  }

  get backend(): SymbolizerBackend {
    if (this.llvm?.usable) return 'llvm-symbolizer';
    return this.addr2linePath ? 'addr2line' : 'none';
  }

  /** Every warning so far. */
  get warnings(): readonly string[] {
    return this.allWarnings;
  }

  /** The warnings not yet taken by an earlier call. */
  takeNewWarnings(): string[] {
    const fresh = this.allWarnings.slice(this.reported);
    this.reported = this.allWarnings.length;
    return fresh;
  }

  warn(message: string): void {
    if (!this.allWarnings.includes(message)) this.allWarnings.push(message);
  }

  /**
   * Frames (innermost inline level first) for each request, in request order; `[]` where nothing is known. A frame
   * may have an empty functionName when only its file and line are known. Never throws.
   */
  async symbolize(requests: readonly ObjectAddress[]): Promise<SourceFrame[][]> {
    const misses: { key: string; request: ObjectAddress; resolve: (frames: SourceFrame[]) => void }[] = [];
    const answers = requests.map((request) => {
      const key = `${request.objectPath}\0${request.address.toString(16)}`;
      let answer = this.cache.get(key);
      if (!answer) {
        answer = new Promise<SourceFrame[]>((resolve) => misses.push({ key, request, resolve }));
        this.cache.set(key, answer);
      }
      return answer;
    });
    if (misses.length > 0) {
      const results = await this.lookup(misses.map((miss) => miss.request));
      misses.forEach((miss, i) => {
        const frames = results[i];
        // A lookup that failed for want of a working tool is forgotten, so a later call may succeed.
        if (frames === undefined) this.cache.delete(miss.key);
        miss.resolve(frames ?? []);
      });
    }
    return Promise.all(answers);
  }

  /** The object's separate debug file, if it has one (looked up once per object). */
  private debugFileOf(request: ObjectAddress): DebugFile | undefined {
    let found = this.debugFiles.get(request.objectPath);
    if (found === undefined) {
      const elf = readElfInfo(request.objectPath);
      found = (elf && findDebugFile(request.objectPath, elf, this.debugDirs, request.originalPath)) || null;
      this.debugFiles.set(request.objectPath, found);
    }
    return found ?? undefined;
  }

  /**
   * llvm-symbolizer finds most debug files itself (it is given the debug directories) and is then given the
   * object; addr2line searches only /usr/lib/debug, so it is always given the debug file.
   */
  private withDebugFile(request: ObjectAddress, forLlvm: boolean): ObjectAddress {
    const debugFile = this.debugFileOf(request);
    if (!debugFile || (forLlvm && debugFile.llvmFindsIt)) return request;
    return { objectPath: debugFile.path, address: request.address };
  }

  private async lookup(requests: readonly ObjectAddress[]): Promise<(SourceFrame[] | undefined)[]> {
    const results: (SourceFrame[] | undefined)[] = this.llvm?.usable
      ? await this.llvm.lookup(requests.map((request) => this.withDebugFile(request, true)))
      : new Array<undefined>(requests.length).fill(undefined);
    const unanswered = results.flatMap((result, i) => (result === undefined ? [i] : []));
    if (unanswered.length > 0 && this.addr2linePath) {
      const fallback = await this.lookupWithAddr2line(unanswered.map((i) => this.withDebugFile(requests[i]!, false)));
      unanswered.forEach((requestIndex, i) => {
        results[requestIndex] = fallback[i];
      });
    }
    return results;
  }

  private async lookupWithAddr2line(requests: readonly ObjectAddress[]): Promise<(SourceFrame[] | undefined)[]> {
    const toolPath = this.addr2linePath!;
    const byObject = new Map<string, number[]>();
    requests.forEach((request, i) => {
      const indexes = byObject.get(request.objectPath) ?? [];
      indexes.push(i);
      byObject.set(request.objectPath, indexes);
    });
    const results: (SourceFrame[] | undefined)[] = new Array<undefined>(requests.length).fill(undefined);
    const objects = [...byObject.entries()];
    const worker = async (): Promise<void> => {
      for (let job = objects.shift(); job; job = objects.shift()) {
        const [objectPath, indexes] = job;
        const frames = await addr2lineLookup(toolPath, objectPath, indexes.map((i) => requests[i]!.address), this.responseTimeoutMs);
        if (!frames) this.warn(`${toolPath} failed on ${objectPath}`);
        indexes.forEach((requestIndex, i) => {
          results[requestIndex] = frames?.[i];
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(addr2lineParallelism, objects.length) }, worker));
    return results;
  }

  async close(): Promise<void> {
    await this.llvm?.close();
  }
}
