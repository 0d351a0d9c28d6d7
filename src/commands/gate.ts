/** `leakhunt gate DIR`: pass or fail a finished run against leak thresholds, for CI. */
import { Command, Option } from 'commander';
import { parseBytes, parseRateBytesPerHour } from '../core/units.js';
import { evaluateGate, loadRunReport, resolveGateOptions, writeGateOutputs, type GateCliOptions } from '../gate/index.js';
import { fraction, parsed } from './options.js';

/** The threshold and output options, shared by `gate` and `run --fail-on-leak`; their values are a GateCliOptions. */
export function addGateOptions(command: Command): Command {
  return command
    .addOption(new Option('--max-leak-rate <rate>', 'a growing site fails above this rate').argParser(parsed((t) => parseRateBytesPerHour(t, '--max-leak-rate'))).default(1024 * 1024, '1MiB/h'))
    .addOption(new Option('--max-growth <size>', 'fail when live malloc grows by more than this over the run (when significant)').argParser(parsed((t) => parseBytes(t, '--max-growth'))).default(50 * 1024 * 1024, '50MiB'))
    .addOption(new Option('--max-rss-growth <size>', 'fail when RSS grows by more than this over the run (default: not gated)').argParser(parsed((t) => parseBytes(t, '--max-rss-growth'))))
    .addOption(new Option('--min-confidence <p>', 'a site fails only at or above this confidence').argParser(fraction('a confidence')).default(0.9))
    .option('--baseline <file>', 'a run directory or report.json: fail only on new sites, or on leaks well beyond it')
    .option('--suppressions <file>', 'known leaks to accept: lines of "leak:<regex>  # reason"')
    .option('--junit <file>', 'write a JUnit XML report (one failing testcase per leaking site)')
    .option('--github', 'GitHub Actions annotations on stdout and a step summary (also when GITHUB_ACTIONS=true)')
    .option('--markdown <file>', 'write the Markdown summary');
}

const gateHelp = `
Reads DIR/report.json (a finished \`leakhunt run\`); nothing is re-run or re-analysed.
A site fails when it is growing, at confidence >= --min-confidence, faster than --max-leak-rate,
and is neither suppressed nor within the baseline (at most max(2x its baseline rate, baseline + threshold)).
The run fails too when live malloc grew significantly by more than --max-growth, or RSS by more than
--max-rss-growth. When nothing fails but the run could not have detected the threshold (too short, too few
snapshots, too coarse --sample-bytes), the answer is "not enough data", with the duration or
--sample-bytes that would decide.

Exit codes:
  0     pass
  1     leak over threshold
  2     bad usage or unreadable input (a suppressions file error names its line)
  3     not enough data to decide

Examples:
  leakhunt gate ./leakhunt-run --max-leak-rate 1MiB/h --junit leakhunt-junit.xml
  leakhunt gate ./leakhunt-run --baseline main-run/report.json --suppressions leakhunt.supp --github`;

export function register(program: Command): void {
  addGateOptions(program.command('gate')
    .description('pass or fail a finished run against leak thresholds (for CI): exit 0 pass, 1 leak, 3 not enough data')
    .argument('<dir>', 'run directory (or its report.json)'))
    .addHelpText('after', gateHelp)
    .action(async (dir: string, opts: GateCliOptions) => {
      const run = loadRunReport(dir);
      const options = { ...resolveGateOptions(opts), snapshotTimesSec: run.snapshotTimesSec, source: run.path };
      const result = evaluateGate(run.report, options);
      await writeGateOutputs(result, options);
      process.exitCode = result.exitCode;
    });
}
