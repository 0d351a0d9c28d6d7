export { defaultShimPath, requireShim } from './shim.js';
export { javaToolOptionsWithAgent, NMT_OPTION, preloadWithShim, targetEnvironment, type ShimSettings } from './environment.js';
export { startObjectKeeper, type KeptObject, type ObjectKeeper, type ObjectKeeperOptions } from './objects.js';
export { runTarget, type RssPoint, type TargetOptions, type TargetOutcome } from './target.js';
export { ALLOCATORS, findAllocator, type AllocatorName } from './allocator.js';
export {
  JVM_STATS_SCHEMA, parseHeapInfo, parseNmtSummary, readJvmStats, startJvmStatsPoller, type JvmPoller, type JvmSample, type JvmStats, type NmtSummary,
} from './jvm-stats.js';
export {
  MAX_PERF_MAP_COPIES, PERF_MAPS_SCHEMA, startPerfMapCapture, type PerfMapCapture, type PerfMapCaptureOptions, type PerfMapCopy, type PerfMapsIndex,
} from './perfmaps.js';
