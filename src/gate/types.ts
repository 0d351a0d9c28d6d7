/** What the CI leak gate is asked, and what it answers. */
import type { SiteReport } from '../analyse/index.js';
import type { RunReport } from '../pipeline/index.js';

const MiB = 1024 * 1024;

export interface GateThresholds {
  /** A growing site fails above this rate, bytes per hour. */
  maxLeakRateBytesPerHour: number;
  /** The run fails when its live malloc bytes grew by more than this, significantly. */
  maxGrowthBytes: number;
  /** The run fails when its RSS grew by more than this; unset: RSS is not gated. */
  maxRssGrowthBytes?: number;
  /** A site fails only at or above this confidence (and when the ranking calls it growing). */
  minConfidence: number;
}

export const DEFAULT_GATE_THRESHOLDS: Readonly<GateThresholds> = {
  maxLeakRateBytesPerHour: 1 * MiB,
  maxGrowthBytes: 50 * MiB,
  minConfidence: 0.9,
};

/** One line of a suppressions file: `leak:<regex>  # reason`. */
export interface SuppressionRule {
  /** 1-based line number in the file. */
  line: number;
  /** The regular expression as written. */
  pattern: string;
  regex: RegExp;
  reason: string;
}

export interface Suppressions {
  /** The file the rules came from, for messages. */
  source: string;
  rules: SuppressionRule[];
}

export interface Baseline {
  /** The run directory or report.json it came from, for messages. */
  source: string;
  report: RunReport;
}

export interface GateOptions extends GateThresholds {
  /** Fail only on sites new relative to this run, or leaking well beyond it (see evaluate.ts). */
  baseline?: Baseline;
  suppressions?: Suppressions;
  /** Snapshot times (seconds, from timeline.json) when known; else evenly spaced over the run is assumed. */
  snapshotTimesSec?: readonly number[];
  /** Where the gated report came from, for messages. */
  source?: string;
  /** Write a JUnit XML file here. */
  junitPath?: string;
  /** Write the Markdown summary here. */
  markdownPath?: string;
  /** GitHub Actions: `::error` annotations on stdout, and the summary appended to `githubStepSummaryPath`. */
  github?: boolean;
  githubStepSummaryPath?: string;
  /** The per-site lines on stdout (default true; off when stdout carries something else, e.g. JSON). */
  details?: boolean;
}

export type GateOutcome = 'pass' | 'fail' | 'not-enough-data';

/** Why the run could not have detected the thresholds (the figures are the result's own). */
export type GateProblem =
  /** Fewer snapshots than a trend needs. */
  | { kind: 'too-few-snapshots' }
  /** The smallest leak rate it could show is above --max-leak-rate. */
  | { kind: 'rate-undetectable' }
  /** The smallest live growth it could show is above the live growth limit. */
  | { kind: 'growth-undetectable' };

/** What would let a run decide. */
export type GateAdvice =
  /** A run this long (seconds) at this sampling and snapshot interval. */
  | { kind: 'run-longer'; durationSec: number; sampleBytes: number; intervalSec: number }
  /** A smaller sampling interval for a run as long as this one. */
  | { kind: 'sample-finer'; sampleBytes: number }
  /** More snapshots in a run as long as this one. */
  | { kind: 'snapshot-more-often'; intervalMs: number };

export interface SuppressedSite {
  site: SiteReport;
  rule: SuppressionRule;
  /** The stack frame (or site name) the rule matched. */
  frame: string;
}

export interface BaselinedSite {
  site: SiteReport;
  /** The baseline's rate for the same site (0 unless it was growing there). */
  baselineRateBytesPerHour: number;
  /** The rate up to which the site is accepted: max(2 × baseline, baseline + threshold). */
  allowedRateBytesPerHour: number;
}

export interface GateResult {
  outcome: GateOutcome;
  /** 0 pass, 1 leak over threshold, 3 not enough data to decide. */
  exitCode: number;
  thresholds: GateThresholds;
  source?: string;
  baselineSource?: string;
  suppressionsSource?: string;
  run: {
    command: string[];
    durationSec: number;
    snapshots: number;
    /** Seconds from the first snapshot to the last. */
    spanSec: number;
    sampleIntervalBytes: number;
  };
  /** Sites over the threshold, neither suppressed nor accepted by the baseline: these fail the gate. */
  failing: SiteReport[];
  /** Sites over the threshold that a suppression silenced. */
  suppressed: SuppressedSite[];
  /** Suppression rules that matched no site over the threshold. */
  unusedSuppressions: SuppressionRule[];
  /** Sites over the threshold that the baseline already had, within the margin. */
  baselined: BaselinedSite[];
  liveGrowth: {
    /** Live malloc growth over the run, suppressed sites' growth left out. */
    bytes: number;
    confidence: number;
    significant: boolean;
    /** --max-growth, plus the baseline's own growth when there is a baseline. */
    allowedBytes: number;
    exceeded: boolean;
  };
  rssGrowth: {
    bytes: number;
    /** --max-rss-growth, plus the baseline's own RSS growth when there is a baseline; undefined: not gated. */
    allowedBytes?: number;
    exceeded: boolean;
  };
  detection: {
    /** The smallest leak rate this run could show as growing, on a site of its own (bytes per hour). */
    rateBytesPerHour: number;
    /** The smallest live growth over the run it could show as significant. */
    growthBytes: number;
    /** Whether the run could have detected the thresholds. */
    enough: boolean;
    /** Why not, when it could not. */
    problems: GateProblem[];
    /** What would: a longer run, a smaller --sample-bytes, a shorter --interval. */
    advice: GateAdvice[];
  };
  warnings: string[];
}
