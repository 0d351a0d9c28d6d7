// Where the peer JVM workload's added CPU goes: one `perf record -g` of the bare workload and one under the shim and
// its agent (as the bench's "shim and agent alone" mode runs it), in the same sitting. Two tables for RESULTS.md:
// samples per object, the bare run's scaled to the same number of operations, and the top entries of every sample
// that has one of the shim's frames on its stack, split by what ran at the leaf (the JVM's AsyncGetCallTrace, the
// shim's own functions, what the shim called).
//
// perf is optional (Debian: linux-perf): without it, or when the kernel refuses it, the section says so and why.
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { table } from './markdown.mjs';

const FREQUENCY_HZ = 999;
const TOP_ENTRIES = 14;

function perfAvailable() {
  const r = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Records `command` under perf; the workload's ops= count, or a reason it could not. */
function record(command, { cwd, env, file }) {
  const r = spawnSync('perf', ['record', '-F', String(FREQUENCY_HZ), '-g', '-q', '-o', file, '--', ...command],
    { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ops = /\bops=([0-9]+)/.exec(r.stdout ?? '');
  if (r.status !== 0 || !ops)
    return { failure: `${(r.stderr || r.stdout || `perf exited with ${r.status}`).trim().split('\n')[0]}` };
  return { ops: Number(ops[1]) };
}

/** An object's display name: JIT code under one name whatever the thread or map file perf gave it. */
function objectName(dso) {
  if (/^\[JIT\]/.test(dso) || /perf-[0-9]+\.map$/.test(dso)) return 'JIT code';
  return dso.startsWith('[') ? dso : basename(dso);
}

/** Samples per object: perf report --sort dso. */
function samplesPerObject(file) {
  const r = spawnSync('perf', ['report', '-i', file, '--no-children', '--sort', 'dso', '-n', '--stdio'],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  const counts = new Map();
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = /^\s+[0-9.]+%\s+([0-9]+)\s+(\S.*?)\s*$/.exec(line);
    if (!m) continue;
    const name = objectName(m[2]);
    counts.set(name, (counts.get(name) ?? 0) + Number(m[1]));
  }
  return counts;
}

/** Each sample's frames, leaf first: [{ sym, dso }]. */
function samplesWithStacks(file) {
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

const isShim = (frame) => frame.dso.endsWith('libleakhunt.so');
/** The interposed entry points themselves: a sample whose only shim frame is one of them, at the leaf, is the
 * unsampled path (the countdown, the filter). */
const ENTRY_POINTS = new Set(['malloc', 'free', 'calloc', 'realloc', 'reallocarray', 'posix_memalign', 'aligned_alloc',
  'memalign', 'valloc', 'pvalloc', 'mmap', 'mmap64', 'munmap', 'mremap', 'dlsym']);

/** Which of the shim's paths a sample with a shim frame is on. */
function shimPath(frames) {
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

const pct = (part, whole) => `${((100 * part) / whole).toFixed(2)}%`;
const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(0)}`;

function objectTable(bare, shimmed, scale, bareTotal) {
  const names = [...new Set([...bare.keys(), ...shimmed.keys()])];
  const rows = names.map((name) => {
    const b = (bare.get(name) ?? 0) * scale;
    const s = shimmed.get(name) ?? 0;
    return { name, b, s, added: s - b };
  }).filter((x) => x.b >= 20 || x.s >= 20).sort((x, y) => y.s - x.s);
  const sum = (k) => rows.reduce((t, x) => t + x[k], 0);
  const all = { name: 'all', b: sum('b'), s: sum('s'), added: sum('s') - sum('b') };
  return table(['object', 'bare (scaled to the same operations)', 'with the shim and agent', 'added', 'added, of the bare total'],
    [...rows, all].map((x) => [x.name === 'all' ? '**all**' : x.name, x.b.toFixed(0), String(x.s), signed(x.added),
      `${x.added >= 0 ? '+' : ''}${pct(x.added, bareTotal)}`]));
}

function shimTable(samples) {
  const counts = new Map();
  const paths = { unsampled: 0, sampled: 0, javaStack: 0, writer: 0 };
  let inShim = 0;
  for (const frames of samples) {
    if (!frames.some(isShim)) continue;
    inShim++;
    paths[shimPath(frames)]++;
    const key = shimEntry(frames);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP_ENTRIES);
  return {
    inShim, paths,
    text: table(['entry (leaf function)', 'samples', 'of all samples'], top.map(([k, n]) => [k, String(n), pct(n, samples.length)])),
  };
}

/**
 * The section for RESULTS.md (`text`) and the shim's shares of all the JVM's samples (`shares`, fractions; absent when
 * perf could not run). `command` runs the workload and prints ops=; `bareEnv` and `shimEnv` are the two modes'
 * environments.
 */
export function profileJvm({ command, cwd, bareEnv, shimEnv, tmpRoot, say }) {
  const title = `### Where the JVM workload's added CPU goes (perf record -F ${FREQUENCY_HZ} -g, one run bare, one under the shim and agent)`;
  if (!perfAvailable()) return { text: `${title}\n\nSkipped: perf is not installed (Debian: apt-get install linux-perf).` };
  say('JVM workload under perf: bare');
  const bareFile = join(tmpRoot, 'perf-bare.data');
  const bare = record(command, { cwd, env: bareEnv, file: bareFile });
  say('JVM workload under perf: the shim and agent');
  const shimFile = join(tmpRoot, 'perf-shim.data');
  const shimmed = record(command, { cwd, env: shimEnv, file: shimFile });
  const failure = bare.failure ?? shimmed.failure;
  if (failure) return { text: `${title}\n\nSkipped: perf record failed: ${failure}` };

  const bareObjects = samplesPerObject(bareFile);
  const shimObjects = samplesPerObject(shimFile);
  const scale = shimmed.ops / bare.ops;
  const bareTotal = [...bareObjects.values()].reduce((t, n) => t + n, 0) * scale;
  const samples = samplesWithStacks(shimFile);
  const shim = shimTable(samples);
  const share = (n) => n / samples.length;
  const shares = {
    inShim: share(shim.inShim), unsampled: share(shim.paths.unsampled), javaStack: share(shim.paths.javaStack),
    sampled: share(shim.paths.sampled), writer: share(shim.paths.writer),
  };
  const text = [
    title, '',
    `Samples per object: ${bare.ops} operations bare, ${shimmed.ops} under the shim; the bare run's counts are scaled to`
      + ' the same number of operations. One run each: read it for where the time goes, the ratios above for how much.'
      + ' The kernel\'s share is smeared in a VM (samples land where interrupts are enabled again).', '',
    objectTable(bareObjects, shimObjects, scale, bareTotal), '',
    `Every sample with a frame of the shim on its stack: ${shim.inShim} of ${samples.length} (${pct(shim.inShim, samples.length)}):`
      + ` the unsampled paths (countdown, filter) ${pct(shim.paths.unsampled, samples.length)},`
      + ` a sample's Java stack (AsyncGetCallTrace, the JVM's own walk) ${pct(shim.paths.javaStack, samples.length)},`
      + ` the rest of the sampled paths (native stack, interning, the liveness table, sampled frees) ${pct(shim.paths.sampled, samples.length)},`
      + ` the writer thread (snapshots, smaps) ${pct(shim.paths.writer, samples.length)}. The top ${TOP_ENTRIES} entries by the function at the leaf:`, '',
    shim.text,
  ].join('\n');
  return { text, shares };
}
