/** `leakhunt report DIR`: re-analyse and re-render a run directory without running anything again. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ProfilePoint, TimelinePoint } from '../analyse/index.js';
import { ExitCode, LeakhuntError, inputError } from '../core/errors.js';
import { readHeapProfile } from '../pprof/index.js';
import {
  buildRunReport, colorWanted, readRunMeta, renderJson, renderMarkdown, renderText, type RunReport, type ShimSummary,
} from '../report/index.js';
import { writeJsonAtomic } from '../report/run-dir.js';

export type ReportFormat = 'text' | 'json' | 'md';

export interface ReportCommandOptions {
  format: ReportFormat;
  top: number;
  /** A site counts as growing at or above this confidence (default: the analysis's own). */
  minConfidence?: number;
  /** Replace DIR/report.json with the new analysis (atomically). */
  write: boolean;
}

function readJsonFile(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

/** The profiles in DIR/snapshots, by sequence number; a damaged one is skipped with a warning. */
function readProfiles(dir: string, warnings: string[]): { sequence: number; file: string; profile: ProfilePoint['profile'] }[] {
  const snapshotsDir = join(dir, 'snapshots');
  if (!existsSync(snapshotsDir)) return [];
  const files = readdirSync(snapshotsDir)
    .map((file) => ({ file, match: /^(\d+)\.pb\.gz$/.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map(({ file, match }) => ({ file, sequence: Number(match[1]) }))
    .sort((a, b) => a.sequence - b.sequence);
  const profiles = [];
  for (const { file, sequence } of files) {
    try {
      profiles.push({ sequence, file, profile: readHeapProfile(join(snapshotsDir, file)) });
    } catch (error) {
      warnings.push(`skipped snapshots/${file}: ${(error as Error).message}`);
    }
  }
  return profiles;
}

/** The previous analysis, for what the profiles do not hold: the shim's counters and the run's warnings. */
function previousReport(dir: string, warnings: string[]): Partial<RunReport> | undefined {
  const path = join(dir, 'report.json');
  if (!existsSync(path)) return undefined;
  try {
    const report = readJsonFile(path);
    if (report && typeof report === 'object' && !Array.isArray(report)) return report as Partial<RunReport>;
  } catch {
    // reported below
  }
  warnings.push('report.json is unreadable: the shim\'s counters are not shown');
  return undefined;
}

/** Rebuilds the run's report from run.json, timeline.json and snapshots/NNNN.pb.gz. */
export function reanalyseRun(dir: string, options: Pick<ReportCommandOptions, 'minConfidence'> = {}): RunReport {
  let meta: ReturnType<typeof readRunMeta>;
  try {
    meta = readRunMeta(dir);
  } catch (error) {
    if (error instanceof LeakhuntError) throw error;
    throw inputError(join(dir, 'run.json'), 'not a leakhunt run.json');
  }
  let timeline: TimelinePoint[];
  try {
    const document = readJsonFile(join(dir, 'timeline.json')) as { snapshots?: unknown };
    if (!Array.isArray(document.snapshots)) throw new Error('no snapshots');
    timeline = document.snapshots as TimelinePoint[];
  } catch {
    throw inputError(dir, 'no readable timeline.json: the run was not processed (did leakhunt run end early?)');
  }
  const warnings: string[] = [];
  const previous = previousReport(dir, warnings);
  const timeOf = new Map(timeline.map((p) => [p.sequence, p.timeSec]));
  const points: ProfilePoint[] = readProfiles(dir, warnings).map(({ sequence, profile }) => ({
    // A profile the timeline does not list: its own timestamp against the run's start.
    timeSec: timeOf.get(sequence) ?? Number(profile.timeNanos / 1_000_000n) / 1000 - meta.startedAtMs / 1000,
    profile,
  }));
  const shim: ShimSummary | null = previous?.shim ?? null;
  const report = buildRunReport(
    {
      command: meta.command, pid: meta.pid ?? 0, exitStatus: meta.exitStatus ?? null,
      durationSec: ((meta.endedAtMs ?? meta.startedAtMs) - meta.startedAtMs) / 1000,
      sampleBytes: meta.sampleBytes, snapshotIntervalMs: meta.snapshotIntervalMs,
      warnings: [...(Array.isArray(previous?.warnings) ? previous.warnings : []), ...warnings],
    },
    points, timeline, shim,
    options.minConfidence === undefined ? {} : { minConfidence: options.minConfidence },
  );
  // The previous report's warnings include those buildRunReport adds again.
  report.warnings = [...new Set(report.warnings)];
  return report;
}

export function render(report: RunReport, format: ReportFormat, top: number): string {
  if (format === 'json') return renderJson(report, top);
  if (format === 'md') return renderMarkdown(report, { top });
  return renderText(report, { top, color: colorWanted() });
}

/** Prints DIR's report in `format`; returns the exit code (0). */
export function reportCommand(dir: string, options: ReportCommandOptions): number {
  const report = reanalyseRun(dir, options);
  if (options.write) writeJsonAtomic(join(dir, 'report.json'), report);
  process.stdout.write(render(report, options.format, options.top));
  return ExitCode.ok;
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`"${text}" is not a positive whole number`);
  return n;
}

function probability(text: string): number {
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || x < 0 || x > 1) throw new InvalidArgumentError(`"${text}" is not a number between 0 and 1`);
  return x;
}

export function register(program: Command): void {
  program.command('report')
    .description('re-analyse a run directory and print its report, without running anything again')
    .argument('<dir>', 'a run directory (leakhunt run --out)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'md']))
    .option('--json', 'same as --format json', false)
    .option('--top <n>', 'sites to show', positiveInteger, 10)
    .option('--min-confidence <x>', 'a site counts as growing at or above this confidence (0..1, default 0.9)', probability)
    .option('--write', 'replace the run directory\'s report.json with this analysis', false)
    .addHelpText('after', '\nExample:\n  leakhunt report ./leakhunt-20250101-120000 --format md >> "$GITHUB_STEP_SUMMARY"')
    .action((dir: string, opts: { format?: ReportFormat; json: boolean; top: number; minConfidence?: number; write: boolean }) => {
      if (opts.json && opts.format !== undefined && opts.format !== 'json') {
        throw new LeakhuntError(`--json and --format ${opts.format} contradict each other`, ExitCode.usage);
      }
      const options: ReportCommandOptions = { format: opts.json ? 'json' : opts.format ?? 'text', top: opts.top, write: opts.write };
      if (opts.minConfidence !== undefined) options.minConfidence = opts.minConfidence;
      process.exitCode = reportCommand(dir, options);
    });
}
