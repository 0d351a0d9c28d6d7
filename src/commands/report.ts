/**
 * `leakhunt report DIR`: re-analyse and re-render a run directory without running anything again. A directory whose
 * raw snapshots were never processed (leakhunt run was killed before it got to them) is processed first, as run
 * would have: its profiles, timeline.json, report.json and report.html are written.
 */
import { Command, Option } from 'commander';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { parseDurationMs } from '../core/units.js';
import { hasUnprocessedSnapshots, ProcessTimings, reanalyseProcessed, reanalyseRun, type RunReport } from '../pipeline/index.js';
import { colorWanted, renderJson, renderMarkdown, renderRunHtml, renderText, writeHtmlReport } from '../report/index.js';
import { runPath, writeJsonAtomic } from '../rundir/index.js';
import { fraction, parsed, positiveInteger, regexList } from './options.js';
import { processRunDirectory } from './process.js';

export type ReportFormat = 'text' | 'json' | 'md' | 'html';

export interface ReportCommandOptions {
  format: ReportFormat;
  top: number;
  /** A site counts as growing at or above this confidence (default: the analysis's own). */
  minConfidence?: number;
  /** Seconds at the start to leave out of trends (default: the run's own setting, or detected). */
  warmupSec?: number;
  /** More frame patterns to look past when grouping sites. */
  ignoreFrames?: string[];
  /** Replace DIR/report.json with the new analysis (atomically); with html, write DIR/report.html instead of printing it. */
  write: boolean;
}

export function render(report: RunReport, format: ReportFormat, top: number): string {
  if (format === 'json') return renderJson(report, top);
  if (format === 'md') return renderMarkdown(report, { top });
  if (format === 'html') throw new Error('the HTML report needs its run directory: renderRunHtml');
  return renderText(report, { top, color: colorWanted() });
}

/** Prints DIR's report in `format`; returns the exit code (0). */
export async function reportCommand(dir: string, options: ReportCommandOptions): Promise<number> {
  if (hasUnprocessedSnapshots(dir)) return processAndReport(dir, options);
  const report = reanalyseRun(dir, options);
  if (options.write) writeJsonAtomic(runPath(dir, 'report'), report);
  if (options.format === 'html' && options.write) process.stderr.write(`leakhunt: wrote ${writeHtmlReport(dir, report, { top: options.top })}\n`);
  else if (options.format === 'html') process.stdout.write(renderRunHtml(dir, report, { top: options.top }));
  else process.stdout.write(render(report, options.format, options.top));
  return ExitCode.ok;
}

/**
 * The raw snapshots of DIR processed as `leakhunt run` would have, then the report printed as for a processed run.
 * LEAKHUNT_TIMINGS=1 adds a line on stderr: where the processing spent its time, and the peak RSS.
 */
async function processAndReport(dir: string, options: ReportCommandOptions): Promise<number> {
  const started = performance.now();
  const timings = new ProcessTimings();
  process.stderr.write(`leakhunt: ${dir}: raw snapshots never processed (did leakhunt run end early?): processing them now\n`);
  const processed = await processRunDirectory(dir, timings);
  for (const note of processed.notes) process.stderr.write(`leakhunt: ${note}\n`);
  process.stderr.write(`leakhunt: wrote profiles, timeline.json, report.json and report.html into ${dir}\n`);
  const overridden = options.minConfidence !== undefined || options.warmupSec !== undefined || options.ignoreFrames !== undefined;
  const report = overridden ? reanalyseProcessed(processed, options) : processed.report;
  if (overridden && options.write) writeJsonAtomic(runPath(dir, 'report'), report);
  const htmlOptions = { timeline: processed.timeline, series: processed.series, top: options.top };
  if (options.format === 'html' && options.write) {
    process.stderr.write(`leakhunt: wrote ${writeHtmlReport(dir, report, htmlOptions)}\n`);
  } else if (options.format === 'html') {
    process.stdout.write(renderRunHtml(dir, report, htmlOptions));
  } else {
    process.stdout.write(render(report, options.format, options.top));
  }
  if (process.env['LEAKHUNT_TIMINGS'] === '1') {
    const line = { totalMs: Math.round(performance.now() - started), peakRssBytes: process.resourceUsage().maxRSS * 1024, ...timings.toJSON() };
    process.stderr.write(`leakhunt: timings: ${JSON.stringify(line)}\n`);
  }
  return ExitCode.ok;
}

export function register(program: Command): void {
  program.command('report')
    .description('re-analyse a run directory and print its report, without running anything again (a run whose raw snapshots were never processed is processed first)')
    .argument('<dir>', 'a run directory (leakhunt run --out)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'md', 'html']))
    .option('--json', 'same as --format json', false)
    .option('--top <n>', 'sites to show (default 10; 50 with --format html)', positiveInteger)
    .option('--min-confidence <x>', 'a site counts as growing at or above this confidence (0..1, default 0.9)', fraction('a number'))
    .option('--warmup <duration>', 'leave this much of the start out of trends (default: detected)', parsed((t) => parseDurationMs(t, '--warmup') / 1000))
    .option('--ignore-frames <regex>', 'also look past frames matching this when grouping sites (repeatable)', regexList)
    .option('--write', 'replace the run directory\'s report.json with this analysis (html: write report.html there instead of printing it)', false)
    .addHelpText('after', '\nExample:\n  leakhunt report ./leakhunt-20250101-120000 --format md >> "$GITHUB_STEP_SUMMARY"')
    .action(async (dir: string, opts: { format?: ReportFormat; json: boolean; top?: number; minConfidence?: number; warmup?: number; ignoreFrames?: string[]; write: boolean }) => {
      if (opts.json && opts.format !== undefined && opts.format !== 'json') {
        throw new LeakhuntError(`--json and --format ${opts.format} contradict each other`, ExitCode.usage);
      }
      const format = opts.json ? 'json' : opts.format ?? 'text';
      const options: ReportCommandOptions = { format, top: opts.top ?? (format === 'html' ? 50 : 10), write: opts.write };
      if (opts.minConfidence !== undefined) options.minConfidence = opts.minConfidence;
      if (opts.warmup !== undefined) options.warmupSec = opts.warmup;
      if (opts.ignoreFrames) options.ignoreFrames = opts.ignoreFrames;
      process.exitCode = await reportCommand(dir, options);
    });
}
