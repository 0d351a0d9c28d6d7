/**
 * The one-line live status `leakhunt run` keeps on stderr while the target runs — elapsed time, RSS, the live malloc
 * estimate of the newest snapshot (and its change since the first), snapshots so far — redrawn on each RSS sample
 * and cleared at the end. Only on a terminal: never when stderr is a file or a pipe, never with --quiet.
 * Which call site grows is known only after symbolization, at the end, so the line does not guess at it.
 */
import { statSync } from 'node:fs';
import { formatBytes, formatDurationMs } from '../core/units.js';
import { listSnapshotFiles } from '../rundir/index.js';
import { readSnapshotFile } from '../snapshot/index.js';

export interface StatusLine {
  /** The target's pid: its raw/<pid>/ holds the snapshots counted. */
  setPid(pid: number): void;
  /** For runTarget's onTick. */
  onTick(elapsedMs: number, rssBytes: number): void;
  /** Removes the line (before other output, and when the run ends); the next tick draws it again. */
  clear(): void;
  /** Removes the line for good. */
  stop(): void;
}

export interface StatusLineOptions {
  rawDir: string;
  /** Off with --quiet. */
  enabled: boolean;
  stream?: NodeJS.WriteStream;
}

/** Snapshots larger than this are not read for the live estimate (the line shows RSS only). */
const maxParsedBytes = 16 * 1024 * 1024;

export interface StatusFigures {
  elapsedMs: number;
  rssBytes: number;
  snapshots: number;
  liveBytes?: number;
  firstLiveBytes?: number;
}

export function statusText(f: StatusFigures): string {
  const parts = [`leakhunt: ${formatDurationMs(f.elapsedMs)}`, `RSS ${formatBytes(f.rssBytes)}`];
  if (f.liveBytes !== undefined) {
    const change = f.firstLiveBytes === undefined ? 0 : f.liveBytes - f.firstLiveBytes;
    parts.push(`live malloc ${formatBytes(f.liveBytes)}${f.snapshots > 1 ? ` (${change >= 0 ? '+' : ''}${formatBytes(change)})` : ''}`);
  }
  parts.push(`${f.snapshots} snapshot${f.snapshots === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

const disabled: StatusLine = { setPid: () => {}, onTick: () => {}, clear: () => {}, stop: () => {} };

export function startStatusLine(options: StatusLineOptions): StatusLine {
  const stream = options.stream ?? process.stderr;
  if (!options.enabled || !stream.isTTY) return disabled;
  let pid: number | undefined;
  let shown = false;
  let stopped = false;
  let newestFile = '';
  let liveBytes: number | undefined;
  let firstLiveBytes: number | undefined;

  const liveOf = (file: string) => readSnapshotFile(file).sites.reduce((sum, site) => sum + ((site.kind ?? 'malloc') === 'malloc' ? site.liveBytes : 0), 0);
  const readNewest = (files: string[]) => {
    const newest = files.at(-1);
    if (!newest || newest === newestFile) return;
    newestFile = newest;
    try {
      if (statSync(newest).size > maxParsedBytes) return;
      liveBytes = liveOf(newest);
      firstLiveBytes ??= files.length === 1 ? liveBytes : liveOf(files[0]!);
    } catch {
      // being replaced, or damaged: the next tick tries the next one
    }
  };

  const clear = () => {
    if (shown) stream.write('\r\x1b[2K');
    shown = false;
  };
  return {
    setPid(p) { pid = p; },
    onTick(elapsedMs, rssBytes) {
      if (stopped) return;
      const files = pid === undefined ? [] : listSnapshotFiles(options.rawDir, pid);
      readNewest(files);
      const figures: StatusFigures = { elapsedMs, rssBytes, snapshots: files.length };
      if (liveBytes !== undefined) figures.liveBytes = liveBytes;
      if (firstLiveBytes !== undefined) figures.firstLiveBytes = firstLiveBytes;
      const width = Math.max(20, (stream.columns || 80) - 1);
      const text = statusText(figures);
      stream.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      shown = true;
    },
    clear,
    stop() {
      clear();
      stopped = true;
    },
  };
}
