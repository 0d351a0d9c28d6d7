/** Reading what the gate judges: a run directory's report.json (and its snapshot times), or a bare report.json. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { insideRunDirHint, readTimelineSnapshots, runPath } from '../rundir/index.js';
import { REPORT_SCHEMA, type RunReport } from '../pipeline/index.js';

export interface LoadedRun {
  /** The report.json read. */
  path: string;
  report: RunReport;
  /** Snapshot times from the run directory's timeline.json, when it has one that fits the report. */
  snapshotTimesSec?: number[];
}

function bad(path: string, why: string): LeakhuntError {
  return new LeakhuntError(`${path}: ${why}`, ExitCode.usage);
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Checks the parts of report.json the gate reads; anything else may be absent or newer. */
function checkReport(value: unknown, path: string): RunReport {
  if (typeof value !== 'object' || value === null) throw bad(path, 'not a leakhunt report (not a JSON object)');
  const report = value as Record<string, unknown>;
  if (report.schema !== REPORT_SCHEMA) throw bad(path, `not a leakhunt report (schema ${JSON.stringify(report.schema)}, expected "${REPORT_SCHEMA}")`);
  for (const key of ['durationSec', 'sampleBytes', 'snapshotIntervalMs', 'snapshots'] as const) {
    if (!isNumber(report[key])) throw bad(path, `damaged report: "${key}" is not a number`);
  }
  const memory = report.memory as Record<string, unknown> | undefined;
  for (const key of ['liveStartBytes', 'liveEndBytes', 'rssStartBytes', 'rssEndBytes', 'rssGrowthBytesPerHour'] as const) {
    if (!memory || !isNumber(memory[key])) throw bad(path, `damaged report: "memory.${key}" is not a number`);
  }
  if (!Array.isArray(report.sites)) throw bad(path, 'damaged report: "sites" is not a list');
  report.sites.forEach((site: Record<string, unknown>, i) => {
    const ok = typeof site === 'object' && site !== null && typeof site.function === 'string' && typeof site.location === 'string'
      && typeof site.status === 'string' && isNumber(site.leakRateBytesPerHour) && isNumber(site.confidence)
      && isNumber(site.growthBytes) && isNumber(site.liveBytes) && Array.isArray(site.stack) && Array.isArray(site.series)
      && site.stack.every((f: unknown) => typeof f === 'string') && site.series.every(isNumber);
    if (!ok) throw bad(path, `damaged report: site ${i + 1} lacks function, location, status, rate, confidence, stack or series`);
  });
  if (!Array.isArray(report.command)) report.command = [];
  if (!Array.isArray(report.warnings)) report.warnings = [];
  return value as RunReport;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw bad(path, `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw bad(path, `not JSON${insideRunDirHint(path)}`);
  }
}

function snapshotTimes(dir: string, snapshots: number): number[] | undefined {
  try {
    const times = readTimelineSnapshots(dir).map((s) => (s as { timeSec?: unknown } | null)?.timeSec);
    return times.length === snapshots && times.every(isNumber) ? times : undefined;
  } catch {
    return undefined; // the times only refine the estimate; report.json is what counts
  }
}

/** `path` is a run directory (its report.json is read) or a report.json itself. */
export function loadRunReport(path: string): LoadedRun {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw bad(path, `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (isDirectory) {
    const reportPath = runPath(path, 'report');
    if (!existsSync(reportPath)) throw bad(path, 'not a leakhunt run directory (no report.json): give the --out directory of a finished leakhunt run');
    const report = checkReport(readJson(reportPath), reportPath);
    return { path: reportPath, report, snapshotTimesSec: snapshotTimes(path, report.snapshots) };
  }
  return { path, report: checkReport(readJson(path), path) };
}
