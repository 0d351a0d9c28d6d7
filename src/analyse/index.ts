export { abbreviateTemplates, compilePatterns, defaultLibraryPatterns, defaultPlumbingPatterns, describeFrame, isPlumbing, siteFrameIndex, siteKindTag } from './sites.js';
export { DEFAULT_MIN_CONFIDENCE, rankSeries, rankSites, seriesGrowth, siteSeries, totalLiveSeries, warmupOf } from './rank.js';
export { growthPosterior, trendOf, warmupPoints, type Trend, type TrendShape } from './trend.js';
export {
  accountingRow, decideVerdict, EXPLAINS_SHARE, MIN_SNAPSHOTS_FOR_TREND, unseenGrows, type UnexplainedBecause, type VerdictCase, type VerdictDecision,
  type VerdictInput,
} from './verdict.js';
export { accountMemory, PART_ORDER, trimProbeOf, type AccountingPart, type AccountingRow, type MappedFileRow, type MemoryAccounting, type TrimProbe } from './accounting.js';
export { isResidentParts, OTHER_FILES, residentPartsOf, type ResidentContext, type ResidentPart, type ResidentParts } from './resident.js';
export { rssClimbPoints, trendWindowOf, type TrendWindow } from './window.js';
export { consistentSites } from './consistency.js';
export { fitLine, normalCdf, selectSmallest, theilSenSlope } from './statistics.js';
export type * from './types.js';
export { beforeTrim, memoryGrowth, timelineOf, timelinePointOf, type AllocatorKind, type TimelinePoint } from './timeline.js';
export { diffProfiles, diffStatus, type DiffOptions, type DiffStatus, type ProfileDiff, type SiteDiff } from './diff.js';
export { detectableRateBytesPerHour, durationToDetectSec, growthZ, sampleBytesToDetect, type DetectionInput, type DurationNeeded, type SampleBytesNeeded } from './detection.js';
export { MIN_UNSEEN_GROWTH_BYTES, unseenGrowth, unseenMallocSeries, type UnseenCheck, type UnseenGrowth, type UnseenUnavailable } from './unseen.js';
export type { BlockGrowth } from './containers.js';
