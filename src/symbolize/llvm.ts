/**
 * One long-lived llvm-symbolizer process answering `"<object>" 0x<address>` requests with one JSON line each.
 * Keeping it alive matters: it loads each object's debug info once, and a run asks about the same objects for
 * every snapshot.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { SourceFrame } from './types.js';

/** Flags verified against llvm-symbolizer 14; JSON output needs LLVM 13 or newer. */
export const llvmSymbolizerArgs = ['--output-style=JSON', '--inlines', '--demangle', '--functions=linkage'];
export const minimumLlvmVersion = 13;

export interface ObjectAddress {
  objectPath: string;
  address: bigint;
  /** Where the object was loaded from, when `objectPath` is a kept copy (debuglinks are relative to it). */
  originalPath?: string;
}

export interface LlvmSymbolizerOptions {
  /** How long to wait for the next answer before presuming the process hung and killing it. */
  responseTimeoutMs: number;
  /** Restarts allowed after crashes before the process is given up on. */
  maxRestarts: number;
  warn: (message: string) => void;
  /** Appended to llvmSymbolizerArgs, e.g. --debug-file-directory options. */
  extraArgs?: readonly string[];
}

/** `undefined`: the process could not answer (not cacheable). `[]`: answered, nothing known. */
export type LookupResult = SourceFrame[] | undefined;

interface PendingRequest {
  line: string;
  resolve: (result: LookupResult) => void;
}

interface SymbolJson {
  FunctionName?: string;
  FileName?: string;
  Line?: number;
  Column?: number;
}

/** A refable handle (net.Socket, ChildProcess); typed loosely because Readable does not declare ref/unref. */
type Refable = { ref?: () => void; unref?: () => void };

export class LlvmSymbolizerProcess {
  private child: ChildProcessWithoutNullStreams | undefined;
  /** Requests written and not yet answered, in the order written; answers come back in the same order. */
  private pending: PendingRequest[] = [];
  private pendingHead = 0;
  private stdoutBuffer = '';
  private stderrTail = '';
  private restarts = 0;
  private givenUp = false;
  private closing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly toolPath: string,
    private readonly options: LlvmSymbolizerOptions,
  ) {}

  /** False once the process failed to start or crashed too often. */
  get usable(): boolean {
    return !this.givenUp && !this.closing;
  }

  lookup(requests: readonly ObjectAddress[]): Promise<LookupResult[]> {
    const answers: Promise<LookupResult>[] = [];
    const lines: string[] = [];
    for (const { objectPath, address } of requests) {
      // The request syntax has no escapes: a quote or newline in the path cannot be sent.
      if (/["\n\r]/.test(objectPath)) answers.push(Promise.resolve([]));
      else if (!this.usable) answers.push(Promise.resolve(undefined));
      else {
        const line = `"${objectPath}" 0x${address.toString(16)}\n`;
        lines.push(line);
        answers.push(new Promise((resolve) => this.pending.push({ line, resolve })));
      }
    }
    // One write for the whole batch: tens of thousands of small writes cost more than the symbolizing.
    if (lines.length > 0 && this.ensureRunning()) {
      this.child!.stdin.write(lines.join(''));
      this.armTimer();
    }
    return Promise.all(answers);
  }

  private get pendingCount(): number {
    return this.pending.length - this.pendingHead;
  }

  private takeHead(): PendingRequest | undefined {
    const head = this.pending[this.pendingHead];
    if (!head) return undefined;
    this.pendingHead++;
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    return head;
  }

  private ensureRunning(): boolean {
    if (this.child) {
      this.setReferenced(true);
      return true;
    }
    if (!this.usable) {
      this.failAllPending();
      return false;
    }
    const child = spawn(this.toolPath, [...llvmSymbolizerArgs, ...(this.options.extraArgs ?? [])], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.stdoutBuffer = '';
    this.stderrTail = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onStdout(child, chunk));
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    // Writes racing the process's death fail with EPIPE; the 'exit' handler deals with the consequences.
    child.stdin.on('error', () => {});
    child.on('error', (error: NodeJS.ErrnoException) => this.onDeath(child, error.code === 'ENOENT' || error.code === 'EACCES', error.message));
    // 'close', not 'exit': it comes after stdout is drained, so answers already written are not lost.
    child.on('close', (code, signal) => this.onDeath(child, false, signal ? `killed by ${signal}` : `exit code ${code}`));
    return true;
  }

  private onStdout(child: ChildProcessWithoutNullStreams, chunk: string): void {
    if (child !== this.child) return;
    const text = this.stdoutBuffer + chunk;
    let lineStart = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', lineStart)) {
      const line = text.slice(lineStart, newline);
      lineStart = newline + 1;
      if (line.trim() !== '') this.takeHead()?.resolve(parseLlvmJsonLine(line));
    }
    this.stdoutBuffer = text.slice(lineStart);
    if (this.pendingCount === 0) {
      this.clearTimer();
      this.setReferenced(false);
    } else {
      this.armTimer();
    }
  }

  private onDeath(child: ChildProcessWithoutNullStreams, neverStarted: boolean, why: string): void {
    if (child !== this.child) return;
    this.child = undefined;
    this.clearTimer();
    if (this.closing || this.pendingCount === 0) return;
    const stderr = this.stderrTail.trim().split('\n').pop() ?? '';
    const detail = `${why}${stderr ? `: ${stderr}` : ''}`;
    if (neverStarted) {
      this.giveUp(`cannot run ${this.toolPath} (${detail})`);
      return;
    }
    // Answers arrive in order, so the oldest unanswered request is the one it died on: answer it "unknown" so a
    // poisonous address is cached as such instead of killing every restart.
    this.takeHead()?.resolve([]);
    if (this.restarts >= this.options.maxRestarts) {
      this.giveUp(`${this.toolPath} died ${this.restarts + 1} times (last: ${detail}); giving up on it`);
      return;
    }
    this.restarts++;
    const resend = this.pending.slice(this.pendingHead);
    if (resend.length === 0 || !this.ensureRunning()) return;
    this.child!.stdin.write(resend.map((request) => request.line).join(''));
    this.armTimer();
  }

  private giveUp(message: string): void {
    this.givenUp = true;
    this.options.warn(message);
    this.failAllPending();
  }

  private failAllPending(): void {
    for (let request = this.takeHead(); request; request = this.takeHead()) request.resolve(undefined);
  }

  private armTimer(): void {
    this.clearTimer();
    const child = this.child;
    this.timer = setTimeout(() => {
      if (child !== this.child || !child) return;
      this.options.warn(`${this.toolPath} gave no answer for ${this.options.responseTimeoutMs} ms; restarting it`);
      child.kill('SIGKILL');
    }, this.options.responseTimeoutMs);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** An idle symbolizer must not keep Node alive if a caller forgets close(). */
  private setReferenced(referenced: boolean): void {
    const child = this.child;
    if (!child) return;
    for (const handle of [child, child.stdin, child.stdout, child.stderr] as Refable[]) {
      if (referenced) handle.ref?.();
      else handle.unref?.();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.clearTimer();
    this.failAllPending();
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('close', () => {
        clearTimeout(killer);
        resolve();
      });
      if (child.exitCode !== null || child.signalCode !== null) {
        clearTimeout(killer);
        resolve();
        return;
      }
      child.stdin.end();
    });
  }
}

/** "??" and "" are how the symbolizers spell "unknown". */
export function cleanSymbolText(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  return trimmed === '' || trimmed === '??' || trimmed === '<invalid>' ? undefined : trimmed;
}

/** Frames from one JSON answer; frames knowing neither function nor file are dropped. */
export function parseLlvmJsonLine(line: string): SourceFrame[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return [];
  }
  const symbols = (parsed as { Symbol?: unknown }).Symbol;
  if (!Array.isArray(symbols)) return [];
  const frames: SourceFrame[] = [];
  for (const symbol of symbols as SymbolJson[]) {
    const functionName = cleanSymbolText(symbol.FunctionName);
    const fileName = cleanSymbolText(symbol.FileName);
    if (functionName === undefined && fileName === undefined) continue;
    const frame: SourceFrame = { functionName: functionName ?? '' };
    if (fileName !== undefined) frame.fileName = fileName;
    if (typeof symbol.Line === 'number' && symbol.Line > 0) frame.line = symbol.Line;
    if (typeof symbol.Column === 'number' && symbol.Column > 0) frame.column = symbol.Column;
    frames.push(frame);
  }
  return frames;
}
