export { abbreviateTemplates, compilePatterns, defaultLibraryPatterns, defaultPlumbingPatterns, describeFrame, isPlumbing, siteFrameIndex, siteKindTag } from './sites.js';
export { DEFAULT_MIN_CONFIDENCE, rankSeries, rankSites, seriesGrowth, siteSeries, totalLiveSeries, warmupOf } from './rank.js';
export { growthPosterior, trendOf, warmupPoints, type Trend, type TrendShape } from './trend.js';
export {
  accountingRow, decideVerdict, EXPLAINS_SHARE, MIN_SNAPSHOTS_FOR_TREND, type UnexplainedBecause, type VerdictCase, type VerdictDecision,
  type VerdictInput,
} from './verdict.js';
export type { AccountingPart, AccountingRow, MemoryAccounting, TrimProbe } from './accounting.js';
export { fitLine, normalCdf, selectSmallest, theilSenSlope } from './statistics.js';
export type * from './types.js';
export { memoryGrowth, timelineOf, timelinePointOf, type AllocatorKind, type TimelinePoint } from './timeline.js';
export { diffProfiles, diffStatus, type DiffOptions, type DiffStatus, type ProfileDiff, type SiteDiff } from './diff.js';
export { detectableRateBytesPerHour, durationToDetectSec, growthZ, sampleBytesToDetect, type DetectionInput, type DurationNeeded, type SampleBytesNeeded } from './detection.js';
