export { parseSnapshot, readSnapshotFile, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SUPPORTED_SNAPSHOT_VERSIONS } from './reader.js';
export type * from './types.js';
export { SITE_KINDS } from './types.js';
export { parseSnapshotShared, type SharedStacks } from './reader.js';
export { SnapshotSeriesReader } from './stream.js';
export { SITE_WORDS, SiteTable, SiteWord, StackStore, StackTable } from './tables.js';
