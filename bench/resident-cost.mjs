#!/usr/bin/env node
// What resident memory by mapping costs the target: a JVM with thousands of mappings (accounting.ThreadLeak with
// --max-threads: two mappings per thread, a guard and a stack) recorded by `leakhunt run` at a few intervals; the
// shim's own RESIDENT records say what each reading of /proc/self/smaps cost (read_cpu_ns) and how much CPU the writer
// thread has used in all (thread_cpu_ns), so its share of one CPU is measured inside the target, not guessed.
//
// usage: node bench/resident-cost.mjs [--threads N] [--seconds S] [--intervals 10s,2s,500ms]
//   (defaults 2000 threads, 40 s, 10s,2s,500ms; needs a JDK 17 and `npm run build:fixtures`)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { readSnapshotFile } = await import(join(root, 'dist', 'src', 'snapshot', 'index.js'));
const javaHome = process.env.JAVA_HOME || '/usr/lib/jvm/java-17-openjdk-amd64';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
};
const threads = Number(option('--threads', '2000'));
const seconds = Number(option('--seconds', '40'));
const intervals = option('--intervals', '10s,2s,500ms').split(',');

function measure(interval) {
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-resident-cost-'));
  try {
    const run = spawnSync(process.execPath, [join(root, 'dist', 'src', 'cli.js'), 'run', '-q', '--out', join(dir, 'run'), '--interval', interval, '--',
      join(javaHome, 'bin', 'java'), '-cp', join(root, 'fixtures', 'build', 'accounting', 'classes'), 'accounting.ThreadLeak',
      '--seconds', String(seconds), '--threads-per-second', String(threads), '--max-threads', String(threads)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`leakhunt run exited ${run.status}: ${run.stderr}`);
    const raw = join(dir, 'run', 'raw');
    const pid = readdirSync(raw)[0];
    const snapshots = readdirSync(join(raw, pid)).filter((f) => f.endsWith('.lhs')).sort().map((f) => readSnapshotFile(join(raw, pid, f)));
    // The writer thread's CPU: its cumulative clock in the last snapshot it wrote itself (the final one is the exiting thread's).
    const written = snapshots.filter((s) => s.resident && !s.meta.isFinal);
    const first = written[0];
    const last = written[written.length - 1];
    const wallNs = Number(last.meta.monotonicNs - first.meta.startMonotonicNs);
    const reads = written.map((s) => s.resident.readCpuNs / 1e6).sort((a, b) => a - b);
    const median = reads[reads.length >> 1];
    const smapsNs = written.reduce((sum, s) => sum + s.resident.readCpuNs, 0);
    return {
      interval, snapshots: snapshots.length, withResident: snapshots.filter((s) => s.resident).length,
      mappings: Math.max(...written.map((s) => s.resident.mappingCount)), resident: Math.max(...written.map((s) => s.resident.mappings.length)),
      readMs: median, writerShare: last.resident.threadCpuNs / wallNs, smapsShare: smapsNs / wallNs,
      recordBytes: 64 + 40 * last.resident.mappings.length, mapsBytes: last.maps.length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (x) => `${(100 * x).toFixed(3)}%`;
console.log(`| interval | snapshots (with RESIDENT) | mappings (resident) | smaps read, median CPU | smaps' share of a CPU | writer's share of a CPU | RESIDENT bytes (MAPS text) |`);
console.log('|---|---|---|---|---|---|---|');
for (const interval of intervals) {
  const m = measure(interval);
  console.log(`| ${m.interval} | ${m.snapshots} (${m.withResident}) | ${m.mappings} (${m.resident}) | ${m.readMs.toFixed(2)} ms | ${pct(m.smapsShare)} | ${pct(m.writerShare)} | ${m.recordBytes} (${m.mapsBytes}) |`);
}
