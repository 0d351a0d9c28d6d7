export { abbreviateTemplates, compilePatterns, defaultLibraryPatterns, defaultPlumbingPatterns, describeFrame, isPlumbing, siteFrameIndex } from './sites.js';
export { DEFAULT_MIN_CONFIDENCE, rankSeries, rankSites, seriesGrowth, siteSeries, totalLiveSeries, warmupOf } from './rank.js';
export { growthPosterior, trendOf, warmupPoints, type Trend, type TrendShape } from './trend.js';
export { decideVerdict, MIN_SNAPSHOTS_FOR_TREND } from './verdict.js';
export { fitLine, normalCdf, selectSmallest, theilSenSlope } from './statistics.js';
export type * from './types.js';
export { memoryGrowth, timelineOf, timelinePointOf, type TimelinePoint } from './timeline.js';
export { diffProfiles, diffStatus, type DiffOptions, type DiffStatus, type ProfileDiff, type SiteDiff } from './diff.js';
export { detectableRateBytesPerHour, durationToDetectSec, growthZ, sampleBytesToDetect, type DetectionInput, type DurationNeeded, type SampleBytesNeeded } from './detection.js';
