/**
 * timeline.json: one entry per snapshot with its memory figures (the analysis's TimelinePoint, analyse/timeline.ts),
 * and the CLI's own RSS samples:
 *
 *   {schema: "leakhunt.timeline/v1", snapshots: TimelinePoint[], rss: RssSample[]}
 */
import { readFileSync } from 'node:fs';
import { writeJsonAtomic } from './atomic.js';
import { runPath } from './layout.js';
import type { RssSample } from './run-meta.js';

export const TIMELINE_SCHEMA = 'leakhunt.timeline/v1';

/** What every snapshot entry of timeline.json has: the rest is the analysis's to define. */
export interface TimelineEntry {
  sequence: number;
  /** Seconds since the run started. */
  timeSec: number;
}

export function isTimelineEntry(value: unknown): value is TimelineEntry {
  return typeof value === 'object' && value !== null && typeof (value as TimelineEntry).timeSec === 'number'
    && typeof (value as TimelineEntry).sequence === 'number';
}

/** Writes `dir`/timeline.json (`dir`: a run directory, or a child's under processes/). */
export function writeTimeline(dir: string, snapshots: readonly TimelineEntry[], rss: readonly RssSample[]): void {
  writeJsonAtomic(runPath(dir, 'timeline'), { schema: TIMELINE_SCHEMA, snapshots, rss });
}

/** timeline.json's snapshot entries, unchecked; throws when the file is missing, unreadable or has no list. */
export function readTimelineSnapshots(dir: string): unknown[] {
  const document = JSON.parse(readFileSync(runPath(dir, 'timeline'), 'utf8')) as { snapshots?: unknown } | null;
  if (!Array.isArray(document?.snapshots)) throw new Error('no snapshots');
  return document.snapshots;
}
