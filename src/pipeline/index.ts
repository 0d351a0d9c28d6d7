export { buildRunReport, shimSummary, type MemoryContext, type RunFacts } from './build.js';
export {
  pushReportOf, REPORT_SCHEMA, sampleBytesInForce, type ChildProcessSummary, type MemoryReport, type PushReport, type RunReport, type ShimSummary,
  type Verdict, type VerdictDetail,
} from './model.js';
export { partLabel, shellQuote, trackingSinceSentence, verdictDetail, windowSentence } from './verdict-text.js';
export { analysisOptionsOf, processRun, type ProcessedRun } from './process.js';
export { reanalyseProcessed, reanalyseRun, readProfileSeries, type ReanalysisOptions } from './reanalyse.js';
export { ProcessTimings } from './timings.js';
export { completedRunMeta, hasUnprocessedSnapshots, liveRecordingOf, type LiveRecording } from './unprocessed.js';
