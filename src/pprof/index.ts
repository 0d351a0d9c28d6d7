/** Stage "pprof": writing symbolized snapshots as pprof heap profiles, and reading any pprof heap profile back. */
export { PROFILE_GZIP_LEVEL, ProfileWriter, type ConvertTimings } from './convert.js';
export { HeapProfileEncoder, type EncodedProfile } from './encode.js';
export { buildHeapProfile, encodeProfileGz, heapSampleTypes, kindLabel, siteKindOfLabels, writeProfileGz, type BuildHeapProfileOptions } from './build.js';
export { decodeHeapProfile, readHeapProfile, sampleValueIndex, type HeapProfile, type HeapProfileFrame, type HeapProfileSample } from './read.js';
export { ProfileSeriesReader } from './series-read.js';
export { ProfileSeriesBuilder, seriesOfProfiles, stackKindOf, totalInuse, type ProfilePoint, type ProfileSeries, type SeriesPoint } from './series.js';
