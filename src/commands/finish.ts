/**
 * What `leakhunt run` and `leakhunt attach` do once their recording has ended: process the run directory, finish the
 * push, write report.html, print the report and, with --fail-on-leak, gate it. One place, so the two never drift.
 */
import { evaluateGate, writeGateOutputs, type GateCliOptions, type GateOptions } from '../gate/index.js';
import { processRun } from '../pipeline/index.js';
import { pushSummaryLine, type RunPush, type RunPushOptions } from '../push/index.js';
import { colorWanted, renderJson, renderText, writeHtmlReport } from '../report/index.js';
import type { RecordingSettings } from '../launch/index.js';
import { runPath, writeJsonAtomic, type RunMeta } from '../rundir/index.js';

/**
 * What `leakhunt run` and `leakhunt attach` both take: where to record, how to sample (the shim's settings, as the
 * recording takes them, but for the paths the command makes), what to print, gate and push.
 */
export interface RecordingCommandOptions extends Omit<RecordingSettings, 'runDir' | 'rawDir' | 'shimPath'> {
  out?: string;
  force: boolean;
  json: boolean;
  top: number;
  quiet: boolean;
  /** Gate the run right after it (--fail-on-leak): thresholds and outputs as for `leakhunt gate`. */
  gate?: GateCliOptions;
  /** --push and its companions: each snapshot's profile to a profiling backend as it is made. */
  push?: RunPushOptions;
}

/** The options of run and attach that decide what is printed once the recording ends (see the top of this file). */
export interface RecordedRunOutput {
  json: boolean;
  top: number;
  quiet: boolean;
  gate?: GateOptions;
  push?: RunPush;
  /** One line on stderr about the push (the status line cleared first). */
  pushNote: (line: string) => void;
  /** After the "files are in DIR" line, on the same line. */
  afterFilesLine?: string;
}

/** Processes and reports a recorded run; returns the gate's exit code, or 0 without --fail-on-leak. */
export async function finishRecordedRun(runDir: string, meta: RunMeta, pid: number, out: RecordedRunOutput): Promise<number> {
  const { report, timeline, series } = await processRun(runDir, meta);
  if (out.push) {
    const pushed = report.push = await out.push.finish(pid);
    writeJsonAtomic(runPath(runDir, 'report'), report);
    if (!out.quiet || pushed.left > 0) out.pushNote(pushSummaryLine(pushed, runDir));
  }
  try {
    writeHtmlReport(runDir, report, { timeline, series });
  } catch (error) {
    if (!out.quiet) process.stderr.write(`leakhunt: report.html not written: ${(error as Error).message}\n`);
  }
  process.stdout.write(out.json ? renderJson(report, out.top) : renderText(report, { top: out.top, color: colorWanted() }));
  if (!out.quiet) process.stderr.write(`leakhunt: profiles, timeline.json, report.json and report.html are in ${runDir}${out.afterFilesLine ?? ''}\n`);
  if (!out.gate) return 0;
  // With --json, stdout stays pure JSON.
  const gateOptions = {
    ...out.gate, github: out.gate.github && !out.json, details: !out.json,
    snapshotTimesSec: timeline.map((p) => p.timeSec), source: runPath(runDir, 'report'),
  };
  const result = evaluateGate(report, gateOptions);
  await writeGateOutputs(result, gateOptions);
  return result.exitCode;
}
