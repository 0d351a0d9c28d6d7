// Where the peer JVM workload's added CPU goes: one `perf record -g` of the bare workload and one under the shim and
// its agent (as the bench's "shim and agent alone" mode runs it), in the same sitting. Two tables for RESULTS.md:
// samples per object, the bare run's scaled to the same number of operations, and the top entries of every sample
// that has one of the shim's frames on its stack, split by what ran at the leaf (the JVM's AsyncGetCallTrace, the
// shim's own functions, what the shim called).
//
// The shared reading of a profile is perf-shim.mjs.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { table } from './markdown.mjs';
import { objectName, pct, perfAvailable, recordPerf, samplesWithStacks, shimTable } from './perf-shim.mjs';

const FREQUENCY_HZ = 999;
const TOP_ENTRIES = 14;

/** Records `command` under perf; the workload's ops= count, or a reason it could not. */
function record(command, { cwd, env, file }) {
  const r = recordPerf(command, { cwd, env, file, frequencyHz: FREQUENCY_HZ });
  if (r.failure) return r;
  const ops = /\bops=([0-9]+)/.exec(r.stdout);
  return ops ? { ops: Number(ops[1]) } : { failure: 'the workload printed no ops= count' };
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
  const shim = shimTable(samples, TOP_ENTRIES);
  const share = (n) => n / samples.length;
  const shares = {
    inShim: share(shim.inShim), unsampled: share(shim.paths.unsampled), javaStack: share(shim.paths.javaStack),
    sampled: share(shim.paths.sampled), writer: share(shim.paths.writer), lifecycle: share(shim.paths.lifecycle),
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
      + ` the writer thread (snapshots, smaps) ${pct(shim.paths.writer, samples.length)}, the shim's start-up and final snapshot`
      + ` ${pct(shim.paths.lifecycle, samples.length)}. The top ${TOP_ENTRIES} entries by the function at the leaf:`, '',
    shim.text,
  ].join('\n');
  return { text, shares };
}
