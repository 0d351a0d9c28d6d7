/**
 * The difference between two heap profiles, by site: what each call site retains in the later profile
 * compared with the base. Works on any pprof heap profile with `inuse_space` (ours, Go's, jemalloc's).
 */
import { sampleValueIndex, siteKindOfLabels, type HeapProfile, type HeapProfileFrame } from '../pprof/index.js';
import type { SiteKind } from '../snapshot/types.js';
import { defaultPlumbingPatterns, describeFrame, siteFrameIndex } from './sites.js';

/** grew/shrank: live in both, more/less later; new: absent or 0 in base; gone: 0 in later; same: unchanged. */
export type DiffStatus = 'grew' | 'shrank' | 'new' | 'gone' | 'same';

export interface SiteDiff {
  /** The site frame's function name. */
  function: string;
  /** The site frame as "name (file:line)" or "name (lib)". */
  location: string;
  /** What it allocated (a function's mappings are a site apart from its malloc blocks). */
  kind: SiteKind;
  /** The stack that changed most, innermost first, each "name (file:line)" or "name (lib)". */
  stack: string[];
  status: DiffStatus;
  deltaBytes: number;
  baseBytes: number;
  laterBytes: number;
}

export interface ProfileDiff {
  totals: { baseBytes: number; laterBytes: number; deltaBytes: number };
  /** Largest growth first, shrinks last. */
  sites: SiteDiff[];
}

export interface DiffOptions {
  /** Frames skipped when looking for the site (default: defaultPlumbingPatterns). */
  plumbingPatterns?: readonly RegExp[];
  /** Keep only stacks with a frame matching one of these (by function name or "name (file:line)"). */
  focus?: readonly RegExp[];
  /** Leave out stacks with a frame matching one of these. */
  ignore?: readonly RegExp[];
}

interface StackAccumulator {
  frames: HeapProfileFrame[];
  baseBytes: number;
  laterBytes: number;
}

interface SiteAccumulator {
  function: string;
  location: string;
  kind: SiteKind;
  baseBytes: number;
  laterBytes: number;
  stacks: Map<string, StackAccumulator>;
}

function frameMatches(frame: HeapProfileFrame, patterns: readonly RegExp[]): boolean {
  return patterns.some((p) => p.test(frame.functionName) || p.test(describeFrame(frame)));
}

function kept(stack: readonly HeapProfileFrame[], options: DiffOptions): boolean {
  if (options.focus?.length && !stack.some((f) => frameMatches(f, options.focus!))) return false;
  if (options.ignore?.length && stack.some((f) => frameMatches(f, options.ignore!))) return false;
  return true;
}

function stackKey(frames: readonly HeapProfileFrame[]): string {
  return frames.map(describeFrame).join('|');
}

export function diffStatus(baseBytes: number, laterBytes: number): DiffStatus {
  if (baseBytes === 0 && laterBytes !== 0) return 'new';
  if (laterBytes === 0 && baseBytes !== 0) return 'gone';
  if (laterBytes > baseBytes) return 'grew';
  if (laterBytes < baseBytes) return 'shrank';
  return 'same';
}

/** Site-by-site difference of `later` against `base`, ranked by retained growth (laterBytes − baseBytes). */
export function diffProfiles(base: HeapProfile, later: HeapProfile, options: DiffOptions = {}): ProfileDiff {
  const patterns = options.plumbingPatterns ?? defaultPlumbingPatterns;
  const sites = new Map<string, SiteAccumulator>();
  const totals = { baseBytes: 0, laterBytes: 0, deltaBytes: 0 };
  const add = (profile: HeapProfile, side: 'baseBytes' | 'laterBytes') => {
    const inuse = sampleValueIndex(profile, 'inuse_space');
    if (inuse < 0) return;
    for (const sample of profile.samples) {
      const bytes = sample.values[inuse] ?? 0;
      if (bytes === 0 || !kept(sample.stack, options)) continue;
      totals[side] += bytes;
      const frame = sample.stack[siteFrameIndex(sample.stack, patterns)];
      const name = frame?.functionName ?? '[empty stack]';
      const kind = siteKindOfLabels(sample.labels);
      const siteKey = kind === 'malloc' ? name : `${name}\u0000${kind}`;
      let site = sites.get(siteKey);
      if (!site) {
        site = { function: name, location: frame ? describeFrame(frame) : name, kind, baseBytes: 0, laterBytes: 0, stacks: new Map() };
        sites.set(siteKey, site);
      }
      site[side] += bytes;
      const key = stackKey(sample.stack);
      let stack = site.stacks.get(key);
      if (!stack) {
        stack = { frames: sample.stack, baseBytes: 0, laterBytes: 0 };
        site.stacks.set(key, stack);
      }
      stack[side] += bytes;
    }
  };
  add(base, 'baseBytes');
  add(later, 'laterBytes');
  totals.deltaBytes = totals.laterBytes - totals.baseBytes;

  const result: SiteDiff[] = [];
  for (const site of sites.values()) {
    if (site.baseBytes === 0 && site.laterBytes === 0) continue;
    result.push({
      function: site.function,
      location: site.location,
      kind: site.kind,
      stack: representative(site.stacks).map(describeFrame),
      status: diffStatus(site.baseBytes, site.laterBytes),
      deltaBytes: site.laterBytes - site.baseBytes,
      baseBytes: site.baseBytes,
      laterBytes: site.laterBytes,
    });
  }
  result.sort((a, b) => b.deltaBytes - a.deltaBytes
    || Math.max(b.baseBytes, b.laterBytes) - Math.max(a.baseBytes, a.laterBytes)
    || (a.function < b.function ? -1 : a.function > b.function ? 1 : 0));
  return { totals, sites: result };
}

/** The stack whose bytes changed most, then the heaviest. */
function representative(stacks: Map<string, StackAccumulator>): HeapProfileFrame[] {
  let best: StackAccumulator | undefined;
  const change = (s: StackAccumulator) => Math.abs(s.laterBytes - s.baseBytes);
  const weight = (s: StackAccumulator) => Math.max(s.baseBytes, s.laterBytes);
  for (const stack of stacks.values()) {
    if (!best || change(stack) > change(best) || (change(stack) === change(best) && weight(stack) > weight(best))) best = stack;
  }
  return best?.frames ?? [];
}
