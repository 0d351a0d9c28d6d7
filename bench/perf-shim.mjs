// Reading a `perf record -g` profile of a program under the shim: which of the shim's paths each sample was on, and
// the top entries by the function at the leaf. Shared by the JVM workload's profile (jvm-profile.mjs) and the peer
// malloc-bench's (malloc-profile.mjs).
//
// perf is optional (Debian: linux-perf): without it, or when the kernel refuses it, a section says so and why.
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { table } from './markdown.mjs';

export function perfAvailable() {
  const r = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Records `command` under perf at `frequencyHz` into `file`: the run's stdout, or a reason it could not. */
export function recordPerf(command, { cwd, env, file, frequencyHz }) {
  const r = spawnSync('perf', ['record', '-F', String(frequencyHz), '-g', '-q', '-o', file, '--', ...command],
    { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { failure: `${(r.stderr || r.stdout || `perf exited with ${r.status}`).trim().split('\n')[0]}` };
  return { stdout: r.stdout ?? '' };
}

/** An object's display name: JIT code under one name whatever the thread or map file perf gave it. */
export function objectName(dso) {
  if (/^\[JIT\]/.test(dso) || /perf-[0-9]+\.map$/.test(dso)) return 'JIT code';
  return dso.startsWith('[') ? dso : basename(dso);
}

/** Each sample's frames, leaf first: [{ sym, dso }]. */
export function samplesWithStacks(file) {
  const r = spawnSync('perf', ['script', '-i', file, '-F', 'ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const samples = [];
  for (const block of (r.stdout ?? '').split(/\n\s*\n/)) {
    const frames = [];
    for (const line of block.split('\n')) {
      const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
      if (m) frames.push({ sym: m[1], dso: m[2] });
    }
    if (frames.length > 0) samples.push(frames);
  }
  return samples;
}

/** main() runs inside the shim's wrapper of it (for the final snapshot): a frame of ours that costs nothing. */
const WRAPPERS = new Set(['main_then_snapshot']);
const isShim = (frame) => frame.dso.endsWith('libleakhunt.so') && !WRAPPERS.has(frame.sym);
/** Outside any timed loop: the shim's start-up in its constructor, and the final snapshot at exit. */
const LIFECYCLE = new Set(['leakhunt_constructor', 'take_final_snapshot']);
/** The interposed entry points themselves: a sample whose only shim frame is one of them, at the leaf, is the
 * unsampled path (the countdown, the filter). */
const ENTRY_POINTS = new Set(['malloc', 'free', 'calloc', 'realloc', 'reallocarray', 'posix_memalign', 'aligned_alloc',
  'memalign', 'valloc', 'pvalloc', 'mmap', 'mmap64', 'munmap', 'mremap', 'dlsym']);

/** Which of the shim's paths a sample with a shim frame is on. */
function shimPath(frames) {
  if (frames.some((f) => isShim(f) && LIFECYCLE.has(f.sym))) return 'lifecycle';
  if (frames.some((f) => f.sym === 'writer_main')) return 'writer';
  const own = frames.filter(isShim);
  if (own.length === 1 && isShim(frames[0]) && ENTRY_POINTS.has(frames[0].sym)) return 'unsampled';
  return frames.some((f) => f.sym === 'AsyncGetCallTrace') ? 'javaStack' : 'sampled';
}

/** What a sample with a shim frame was doing: the JVM's Java stack walk, the shim's own code, or what it called. */
function shimEntry(frames) {
  if (frames.some((f) => f.sym === 'AsyncGetCallTrace')) return `AsyncGetCallTrace → ${frames[0].sym} (libjvm)`;
  const leaf = frames[0];
  if (isShim(leaf)) return `the shim: ${leaf.sym}`;
  return `called by the shim: ${leaf.sym} (${objectName(leaf.dso)})`;
}

export const pct = (part, whole) => `${((100 * part) / whole).toFixed(2)}%`;

/**
 * The samples with a frame of the shim on their stack: how many (`inShim`), how many on each path (`paths`), and the
 * top `topEntries` by what ran at the leaf, as shares of all `samples` (`top`) and as a table (`text`).
 */
export function shimTable(samples, topEntries) {
  const counts = new Map();
  const paths = { unsampled: 0, sampled: 0, javaStack: 0, writer: 0, lifecycle: 0 };
  let inShim = 0;
  for (const frames of samples) {
    if (!frames.some(isShim)) continue;
    inShim++;
    paths[shimPath(frames)]++;
    const key = shimEntry(frames);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, topEntries);
  return {
    inShim, paths, top: top.map(([entry, n]) => ({ entry, share: n / samples.length })),
    text: table(['entry (leaf function)', 'samples', 'of all samples'], top.map(([k, n]) => [k, String(n), pct(n, samples.length)])),
  };
}
