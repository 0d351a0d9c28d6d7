// Where the peer malloc-bench's added time goes: one `perf record -g` run under the shim at the default sampling
// interval for each thread count, in the same sitting as the ratios. For RESULTS.md: the share of the run's samples
// on each of the shim's paths — the interposition itself (the countdown and the filter in the entry points), the
// sampled paths, the writer — with what that is per pair, and the top entries by the function at the leaf.
//
// The ratios come from runs without perf; this says where the time goes, not how much there is of it.
import { join } from 'node:path';
import { nsAPair } from './figures.mjs';
import { pct, perfAvailable, recordPerf, samplesWithStacks, shimTable } from './perf-shim.mjs';

const FREQUENCY_HZ = 10_000;
const TOP_ENTRIES = 8;

/** One thread count's part of the section, and its shares (fractions of all samples). */
function profileOne({ command, env, file, threads }) {
  const r = recordPerf(command, { env, file, frequencyHz: FREQUENCY_HZ });
  if (r.failure) return { failure: r.failure };
  const nsPerPair = Number(/\bns_per_pair=([0-9.]+)/.exec(r.stdout)?.[1]);
  const samples = samplesWithStacks(file);
  if (!Number.isFinite(nsPerPair) || samples.length === 0) return { failure: 'no ns_per_pair= or no samples' };
  const shim = shimTable(samples, TOP_ENTRIES);
  const share = (n) => n / samples.length;
  const shares = {
    inShim: share(shim.inShim), unsampled: share(shim.paths.unsampled), sampled: share(shim.paths.sampled), writer: share(shim.paths.writer),
    lifecycle: share(shim.paths.lifecycle),
  };
  const text = [
    `**${threads} thread${threads > 1 ? 's' : ''}** (${nsPerPair} ns a pair under perf, ${samples.length} samples): a frame of the shim in`
      + ` ${pct(shim.inShim, samples.length)} of them (${nsAPair(shares.inShim, nsPerPair)}) —`
      + ` the interposition itself (countdown, filter, the jumps) ${pct(shim.paths.unsampled, samples.length)} (${nsAPair(shares.unsampled, nsPerPair)}),`
      + ` the sampled paths (stack, interning, the liveness table, sampled frees) ${pct(shim.paths.sampled, samples.length)}`
      + ` (${nsAPair(shares.sampled, nsPerPair)}), the writer ${pct(shim.paths.writer, samples.length)}; the shim's start-up and final`
      + ` snapshot, outside the timed loop, ${pct(shim.paths.lifecycle, samples.length)}.`, '',
    shim.text,
  ].join('\n');
  return { text, shares: { ...shares, top: shim.top }, nsPerPair };
}

/**
 * The section for RESULTS.md (`text`) and, per thread count, the shim's shares of the run's samples (`byThreads`;
 * absent when perf could not run). `commandOf(threads)` is the pinned malloc-bench command line; `env` the shim's
 * environment at 512 KiB sampling.
 */
export function profileMallocBench({ commandOf, env, threadCounts, pairs, tmpRoot, say }) {
  const title = `### Where the peer malloc-bench's added time goes (perf record -F ${FREQUENCY_HZ} -g, one run under the shim at 512 KiB per thread count, -n ${pairs})`;
  if (!perfAvailable()) return { text: `${title}\n\nSkipped: perf is not installed (Debian: apt-get install linux-perf).` };
  const parts = [];
  const byThreads = {};
  for (const threads of threadCounts) {
    say(`peer malloc-bench under perf: ${threads} thread${threads > 1 ? 's' : ''}`);
    const p = profileOne({ command: commandOf(threads), env: env(), file: join(tmpRoot, `perf-malloc-${threads}.data`), threads });
    if (p.failure) return { text: `${title}\n\nSkipped: perf record failed: ${p.failure}` };
    parts.push(p.text);
    byThreads[threads] = { ...p.shares, nsPerPair: p.nsPerPair };
  }
  const note = 'Samples are attributed by the stack perf found (frame pointers): a sample in glibc\'s malloc or free is the'
    + ' allocator\'s own work, as in a bare run, even when the shim jumped to it. What the shim\'s sampled work costs the'
    + ' program besides its own time — lines of the program\'s heap it pushes out of the cache — shows in no frame of ours,'
    + ' only in the ratios.';
  return { text: [title, '', note, '', parts.join('\n\n')].join('\n'), byThreads };
}
