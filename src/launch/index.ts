export { defaultShimPath, requireShim } from './shim.js';
export { javaToolOptionsWithAgent, NMT_OPTION, preloadWithShim, targetEnvironment, type ShimSettings } from './environment.js';
export { startObjectKeeper, type ObjectKeeper, type ObjectKeeperOptions } from './objects.js';
export { runExitStatus, runTarget, type TargetOptions, type TargetOutcome } from './target.js';
export { checkCommandRunnable, isStartFailure } from './command.js';
export { ALLOCATORS, findAllocator, type AllocatorName } from './allocator.js';
export { disablesAttach } from './hotspot-attach.js';
export { parseHeapInfo, parseNmtSummary, startJvmStatsPoller, type JvmPoller } from './jvm-stats.js';
export { MAX_PERF_MAP_COPIES, PerfMapCapture, startPerfMapCapture, type PerfMapCaptureOptions } from './perfmaps.js';
export { Recording, startRecording, TRIM_PROBE_AT, trimProbeAtMs, type RecordingHooks, type RecordingOptions, type RecordingSettings } from './recording.js';
export {
  AttachSession, agentOptions, findAttachedRunDir, inspectAttachTarget, isLeakhuntProcess, processExists, requestStop,
  type AttachOptions, type AttachOutcome, type AttachTarget,
} from './attach.js';
