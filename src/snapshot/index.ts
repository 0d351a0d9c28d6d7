export { parseSnapshot, readSnapshotFile, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SUPPORTED_SNAPSHOT_VERSIONS } from './reader.js';
export { listSnapshotFiles, listSnapshotPids, readRunSnapshots } from './run.js';
export type * from './types.js';
