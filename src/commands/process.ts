/**
 * A run directory whose raw snapshots were never processed, processed as `leakhunt run` would have: profiles,
 * timeline.json, report.json (the pipeline) and report.html. What `leakhunt report DIR` does first when it finds one.
 */
import { completedRunMeta, processRun, type ProcessedRun, type ProcessTimings } from '../pipeline/index.js';
import { writeHtmlReport } from '../report/index.js';
import { readRunMeta, type RunMeta } from '../rundir/index.js';

export interface ProcessedRunDirectory extends ProcessedRun {
  meta: RunMeta;
  /** What had to be filled in for run.json (see completedRunMeta), and a report.html that could not be written. */
  notes: string[];
}

/** Processes the raw snapshots of run directory `dir` (see the top of this file). */
export async function processRunDirectory(dir: string, timings?: ProcessTimings): Promise<ProcessedRunDirectory> {
  const { meta, notes } = completedRunMeta(dir, readRunMeta(dir));
  const processed = await processRun(dir, meta, timings);
  const started = performance.now();
  try {
    writeHtmlReport(dir, processed.report, { timeline: processed.timeline, series: processed.series });
  } catch (error) {
    notes.push(`report.html not written: ${(error as Error).message}`);
  }
  timings?.add('write report.html', performance.now() - started);
  return { ...processed, meta, notes };
}
