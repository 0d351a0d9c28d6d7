/** run.json: what was run and how; written before the target starts and completed when it ends. */
import { readFileSync } from 'node:fs';
import { inputError } from '../core/errors.js';
import { writeJsonAtomic } from './atomic.js';
import { insideRunDirHint, runPath } from './layout.js';

export const RUN_META_SCHEMA = 'leakhunt.run/v1';

/** One sample of the target's RSS taken by the CLI (pidusage), ms after the run started. */
export interface RssSample {
  timeMs: number;
  rssBytes: number;
}

export interface RunMeta {
  schema: typeof RUN_META_SCHEMA;
  command: string[];
  /** The pid of the `leakhunt run` that records (and then processes) the run: how `report` knows it is not done. */
  recorderPid?: number;
  startedAtMs: number;
  endedAtMs?: number;
  pid?: number;
  exitStatus?: number | null;
  signal?: string;
  stoppedAfterDuration?: boolean;
  sampleBytes: number;
  snapshotIntervalMs: number;
  /** --warmup: seconds at the start left out of trends (detected when absent). */
  warmupSec?: number;
  /** --ignore-frames: more frame patterns (regular expressions) to look past when grouping sites. */
  ignoreFrames?: string[];
  /** --follow-children: exec'd children of the target recorded too, each in raw/<pid>/. */
  followChildren?: boolean;
  /** --allocator: the allocator library preloaded right after the shim. */
  allocator?: string;
  /** --nmt: JVMs were started with Native Memory Tracking. */
  nmt?: boolean;
  /** Whether JVMs were to load the agent for Java stacks (false with --no-java-stacks). */
  javaStacks?: boolean;
  /** --trim-probe: when it was asked for (ms after the start) and whether the shim took it. */
  trimProbe?: { atMs: number; taken: boolean };
  rss?: RssSample[];
  /** leakhunt attach: the JVM was already running; tracking (and every rate) starts at trackingSinceMs (= startedAtMs). */
  attach?: AttachMeta;
}

export interface AttachMeta {
  pid: number;
  trackingSinceMs: number;
  /** The pid of the leakhunt attach that recorded it: detach leaves the processing to it while it lives. */
  cliPid: number;
  /** How the run ended: detached (leakhunt detach, a signal to leakhunt attach), the duration, the JVM's exit. */
  endedBy?: 'detach' | 'duration' | 'signal' | 'jvm-exit';
}

export function writeRunMeta(runDir: string, meta: RunMeta): void {
  writeJsonAtomic(runPath(runDir, 'runMeta'), meta);
}

export function readRunMeta(runDir: string): RunMeta {
  const path = runPath(runDir, 'runMeta');
  let meta: RunMeta;
  try {
    meta = JSON.parse(readFileSync(path, 'utf8')) as RunMeta;
  } catch {
    throw inputError(runDir, `not a leakhunt run directory (no readable run.json)${insideRunDirHint(runDir)}`);
  }
  if (typeof meta !== 'object' || meta === null || meta.schema !== RUN_META_SCHEMA) {
    throw inputError(path, `not a leakhunt run description (schema ${String((meta as Partial<RunMeta> | null)?.schema)})`);
  }
  // The analysis trusts these fields: check their shape here, once, rather than fail deep inside it.
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const bad = !Array.isArray(meta.command) || !meta.command.every((w) => typeof w === 'string') ? 'command'
    : !isNumber(meta.startedAtMs) ? 'startedAtMs'
      : !isNumber(meta.sampleBytes) || meta.sampleBytes < 1 ? 'sampleBytes'
        : !isNumber(meta.snapshotIntervalMs) ? 'snapshotIntervalMs'
          : meta.pid !== undefined && !isNumber(meta.pid) ? 'pid'
            : meta.endedAtMs !== undefined && !isNumber(meta.endedAtMs) ? 'endedAtMs' : undefined;
  if (bad) throw inputError(path, `damaged run description: "${bad}" is missing or of the wrong type`);
  return meta;
}
