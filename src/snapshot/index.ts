export { parseSnapshot, readSnapshotFile, SNAPSHOT_MAGIC, SNAPSHOT_VERSION } from './reader.js';
export { listSnapshotFiles, listSnapshotPids, readRunSnapshots } from './run.js';
export type * from './types.js';
