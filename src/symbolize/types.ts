/** What the symbolize stage produces. */
import type { RawSnapshot } from '../snapshot/types.js';
import type { MemoryMapping } from './maps.js';

export interface SourceFrame {
  functionName: string;
  fileName?: string;
  line?: number;
  column?: number;
}

export interface SymbolizedLocation {
  /** The return address as recorded in the stack. */
  pc: bigint;
  /** The mapping holding `pc - 1` (the call instruction), if any. */
  mapping?: MemoryMapping;
  /** `pc - 1` as an address inside the mapped object (what nm and addr2line show), when it could be computed. */
  objectAddress?: bigint;
  buildId?: string;
  /**
   * Inline levels, innermost first: the deepest inlined function first, the function the code physically belongs
   * to last. Never empty: when nothing is known, one frame named `<object basename>+0x<objectAddress>` (or
   * `<object>+0x<offset in file>` when the object could not be read, `[vdso]+0x<offset>` for pseudo mappings,
   * `0x<pc - 1>` in anonymous memory such as JIT code or when no mapping holds it).
   */
  frames: SourceFrame[];
  /**
   * True when `frames` came from a symbolizer (or, for code in a JVM's code cache, from its perf map: a Java method
   * as "package.Class.method", a stub as "Interpreter [jvm stub]"), false when they are the placeholder above.
   */
  symbolized: boolean;
}

export interface SymbolizedSnapshot {
  raw: RawSnapshot;
  mappings: MemoryMapping[];
  /** One entry per distinct native pc in `raw.stacks`. */
  locations: Map<bigint, SymbolizedLocation>;
  /** Problems met while symbolizing this snapshot that the session had not reported before (each said once). */
  warnings: string[];
}
