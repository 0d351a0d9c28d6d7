/**
 * The fallback symbolizer: GNU addr2line, one process per object, all of that object's addresses in one batch.
 * It gives no columns, and is slower than llvm-symbolizer on large objects, but binutils is everywhere.
 */
import { spawn } from 'node:child_process';
import { cleanSymbolText } from './llvm.js';
import type { SourceFrame } from './types.js';

export const addr2lineArgs = ['-a', '-f', '-i', '-C'];

/**
 * Frames for each address of `objectPath`, in the order given; `[]` where nothing is known. Undefined when
 * addr2line could not be run at all (missing, killed after `timeoutMs`).
 */
export function addr2lineLookup(
  toolPath: string,
  objectPath: string,
  addresses: readonly bigint[],
  timeoutMs: number,
): Promise<SourceFrame[][] | undefined> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(toolPath, [...addr2lineArgs, '-e', objectPath], { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      resolve(undefined);
      return;
    }
    let stdout = '';
    let failedToRun = false;
    const timer = setTimeout(() => {
      failedToRun = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stdin.on('error', () => {});
    child.on('error', () => {
      failedToRun = true;
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (failedToRun) {
        resolve(undefined);
        return;
      }
      // An unreadable object makes addr2line exit 1 with no output: every address is simply unknown.
      const byAddress = parseAddr2lineOutput(stdout);
      resolve(addresses.map((address) => byAddress.get(address) ?? []));
    });
    child.stdin.end(addresses.map((address) => `0x${address.toString(16)}\n`).join(''));
  });
}

/**
 * Parses `addr2line -a -f -i` output: an address line (`0x...`), then function / `file:line` pairs, innermost
 * inline level first.
 */
export function parseAddr2lineOutput(text: string): Map<bigint, SourceFrame[]> {
  const result = new Map<bigint, SourceFrame[]>();
  const lines = text.split('\n');
  let frames: SourceFrame[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^0x[0-9a-f]+$/i.test(line)) {
      frames = [];
      result.set(BigInt(line), frames);
      continue;
    }
    if (!frames || line === '') continue;
    const functionName = cleanSymbolText(line);
    const location = parseFileLine(lines[i + 1] ?? '');
    i++;
    if (functionName === undefined && location.fileName === undefined) continue;
    frames.push({ functionName: functionName ?? '', ...location });
  }
  return result;
}

function parseFileLine(text: string): { fileName?: string; line?: number } {
  const m = /^(.*):(\d+|\?)(?: \(discriminator \d+\))?$/.exec(text.trim());
  if (!m) return {};
  const result: { fileName?: string; line?: number } = {};
  const fileName = cleanSymbolText(m[1]);
  if (fileName !== undefined) result.fileName = fileName;
  const line = Number(m[2]);
  if (Number.isInteger(line) && line > 0) result.line = line;
  return result;
}
