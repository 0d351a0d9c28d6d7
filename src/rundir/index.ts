export { copyFileAtomic, writeFileAtomic, writeFileAtomicAsync, writeJsonAtomic, writeJsonAtomicAsync } from './atomic.js';
export {
  defaultRunDir, discardRunDir, insideRunDirHint, isOwnedEntry, makeRunSubdirectory, perfMapsDir, prepareRunDir, type PreparedRunDir, processDirName, rawPidDir, RUN_ENTRIES, runPath, type RunEntry,
} from './layout.js';
export { JVM_STATS_SCHEMA, readJvmStats, writeJvmStats, type AddressRange, type JvmRanges, type JvmSample, type JvmStats, type NmtSummary } from './jvm.js';
export { objectsIndexStamp, OBJECTS_SCHEMA, readObjectsIndex, writeObjectsIndex, type KeptObject } from './objects.js';
export { isPerfMapCopyName, PERF_MAPS_SCHEMA, readPerfMapsIndex, writePerfMapsIndex, type PerfMapCopy, type PerfMapsIndex } from './perfmaps.js';
export {
  listProfiles, profileFileName, profilesDirOf, profilesOnDisk, type ProfileFile, type ProfileKey, type WrittenProfile,
} from './profiles.js';
export {
  acquirePushLock, PUSH_SETTINGS_SCHEMA, PushLockedError, readPushSettings, SentLedger, writePushSettings, type PushedLabels, type PushSettings,
} from './push.js';
export { listSnapshotFiles, listSnapshotPids, shimControlFile, shimStoppedMarker, type ShimControl } from './raw.js';
export { readRunMeta, RUN_META_SCHEMA, writeRunMeta, type AttachMeta, type RssSample, type RunMeta } from './run-meta.js';
export { isTimelineEntry, readTimelineSnapshots, TIMELINE_SCHEMA, writeTimeline, type TimelineEntry } from './timeline.js';
