/** Gate options from the command line (shared by `leakhunt gate` and `leakhunt run --fail-on-leak`). */
import { usageError } from '../core/errors.js';
import { loadRunReport } from './load.js';
import { readSuppressions } from './suppressions.js';
import { DEFAULT_GATE_THRESHOLDS, type GateOptions } from './types.js';

/** The parsed command-line values (commander's option names). */
export interface GateCliOptions {
  /** Bytes per hour. */
  maxLeakRate?: number;
  maxGrowth?: number;
  maxRssGrowth?: number;
  minConfidence?: number;
  /** Paths. */
  baseline?: string;
  suppressions?: string;
  junit?: string;
  markdown?: string;
  github?: boolean;
  /** false with --no-unseen-growth. */
  unseenGrowth?: boolean;
}

/**
 * Thresholds with their defaults, the baseline and suppressions read (a bad file is a one-line error, exit 2),
 * GitHub mode from --github or GITHUB_ACTIONS=true, the step summary from GITHUB_STEP_SUMMARY.
 */
export function resolveGateOptions(cli: GateCliOptions, env: NodeJS.ProcessEnv = process.env): GateOptions {
  const minConfidence = cli.minConfidence ?? DEFAULT_GATE_THRESHOLDS.minConfidence;
  if (!(minConfidence >= 0 && minConfidence <= 1)) throw usageError(`--min-confidence must be between 0 and 1, not ${minConfidence}`);
  for (const [flag, value] of [['--max-leak-rate', cli.maxLeakRate], ['--max-growth', cli.maxGrowth], ['--max-rss-growth', cli.maxRssGrowth]] as const) {
    if (value !== undefined && !(value >= 0)) throw usageError(`${flag} must not be negative`);
  }
  const github = Boolean(cli.github) || env.GITHUB_ACTIONS === 'true';
  const baseline = cli.baseline === undefined ? undefined : loadRunReport(cli.baseline);
  return {
    maxLeakRateBytesPerHour: cli.maxLeakRate ?? DEFAULT_GATE_THRESHOLDS.maxLeakRateBytesPerHour,
    maxGrowthBytes: cli.maxGrowth ?? DEFAULT_GATE_THRESHOLDS.maxGrowthBytes,
    maxRssGrowthBytes: cli.maxRssGrowth,
    minConfidence,
    unseenGrowth: cli.unseenGrowth !== false,
    baseline: baseline && { source: baseline.path, report: baseline.report },
    suppressions: cli.suppressions === undefined ? undefined : readSuppressions(cli.suppressions),
    junitPath: cli.junit,
    markdownPath: cli.markdown,
    github,
    githubStepSummaryPath: github && env.GITHUB_STEP_SUMMARY ? env.GITHUB_STEP_SUMMARY : undefined,
    ...(github ? { githubWorkspace: env.GITHUB_WORKSPACE || process.cwd() } : {}),
  };
}
