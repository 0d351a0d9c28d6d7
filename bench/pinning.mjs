// Pinning one-thread benchmark runs to a CPU per round (bench/README.md, "One-thread runs are pinned").
//
// On this kind of VM one core can run a third slower than the other for minutes (presumably a neighbour on its
// host core): a one-thread run then measured whichever core the scheduler picked, and a mode's median mixed both.
// Each round pins every mode of a one-thread case to the same CPU, the next round to the next CPU, and ratios are
// taken within a round.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** The CPUs this process may run on (/proc/self/status), in order. */
function allowedCpus() {
  const status = existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '';
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1];
  if (!list) return [];
  return list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i);
  });
}

const cpus = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0 ? allowedCpus() : [];

/** Whether one-thread runs are pinned in this sitting (taskset is there, and more than one CPU to take turns). */
export const pinsRuns = cpus.length >= 2;

/** The CPU round `round` (1-based) is pinned to, or undefined when runs are not pinned. */
const cpuOfRound = (round) => (pinsRuns ? cpus[(round - 1) % cpus.length] : undefined);

/** `[file, args]` for one run in round `round`: pinned to that round's CPU when the run has one thread. */
export function pinned(file, args, threads, round) {
  if (threads !== 1 || !pinsRuns) return [file, args];
  return ['taskset', ['-c', String(cpuOfRound(round)), file, ...args]];
}

/** Per-round values grouped by the CPU their round was pinned to, in CPU order. */
export function valuesByCpu(values) {
  const byCpu = new Map();
  values.forEach((x, i) => byCpu.set(cpuOfRound(i + 1), [...(byCpu.get(cpuOfRound(i + 1)) ?? []), x]));
  return byCpu;
}

/** What RESULTS.md's header says about pinning. */
export function pinningNote() {
  if (!pinsRuns) return 'one-thread runs not pinned (taskset missing, or a single CPU)';
  return `one-thread runs pinned with taskset, every mode of a round on the same CPU, the rounds taking CPUs ${cpus.join(', ')} in turn;`
    + ' ratios and added ns are medians of per-round ratios and differences; runs of more threads are not pinned';
}
