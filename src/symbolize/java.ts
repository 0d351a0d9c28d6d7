/** Java frames: method ids resolved by the JVM agent → "package.Class.method (Source.java:line)". */
import type { JavaFrame, JavaMethod } from '../snapshot/types.js';
import type { SourceFrame, SymbolizedLocation } from './types.js';

/** "Ljava/util/zip/Deflater;" → "java.util.zip.Deflater"; "[B" and other array signatures are kept readable. */
export function javaClassName(signature: string): string {
  let dims = 0;
  while (signature[dims] === '[') dims++;
  const element = signature.slice(dims);
  const primitives: Record<string, string> = { B: 'byte', C: 'char', D: 'double', F: 'float', I: 'int', J: 'long', S: 'short', Z: 'boolean', V: 'void' };
  const base = element.startsWith('L') && element.endsWith(';') ? element.slice(1, -1).replace(/\//g, '.') : primitives[element] ?? element;
  return base + '[]'.repeat(dims);
}

/** The line of `bci`: the last line-table entry starting at or before it. */
export function javaLineAt(method: JavaMethod, bci: number): number | undefined {
  if (bci < 0) return undefined;
  let line: number | undefined;
  for (const [start, number] of method.lines) {
    if (start > bci) break;
    line = number;
  }
  return line;
}

/** The source path pprof shows: the package directory and the source file, "java/util/zip/Deflater.java". */
function javaSourcePath(method: JavaMethod): string | undefined {
  if (!method.sourceFile) return undefined;
  const className = javaClassName(method.classSignature);
  const dot = className.lastIndexOf('.');
  return dot < 0 ? method.sourceFile : `${className.slice(0, dot).replace(/\./g, '/')}/${method.sourceFile}`;
}

export function javaSourceFrame(frame: JavaFrame, method: JavaMethod | undefined): SourceFrame {
  if (!method) return { functionName: `[java method 0x${frame.methodId.toString(16)}]` };
  if (!method.classSignature) return { functionName: '[java method of an unloaded class]' };
  const line = javaLineAt(method, frame.bci);
  const fileName = javaSourcePath(method);
  return {
    functionName: `${javaClassName(method.classSignature)}.${method.name}`,
    ...(fileName ? { fileName } : {}),
    ...(line !== undefined ? { line } : {}),
  };
}

/**
 * Where the native unwinder stopped: the outermost native frames that lie in anonymous memory (JIT code, the
 * interpreter, JVM stubs). When the stack has Java frames they say the same thing better, so these are dropped.
 */
export function nativeFramesBeforeJava(pcs: readonly bigint[], locations: ReadonlyMap<bigint, SymbolizedLocation>): bigint[] {
  let end = pcs.length;
  while (end > 0) {
    const mapping = locations.get(pcs[end - 1]!)?.mapping;
    if (mapping && mapping.path.startsWith('/')) break;
    end--;
  }
  return pcs.slice(0, end);
}
