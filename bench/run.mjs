#!/usr/bin/env node
// `npm run bench`: what leakhunt costs, measured in one sitting, as ratios to the bare program.
//
//   1. bench/malloc-pairs (ours): ns per malloc+free pair for 1, 2 and nproc threads — bare, with the shim loaded
//      but idle (no LEAKHUNT_DIR: the pure unsampled path), sampling at 512 KiB (the default) and at 64 KiB.
//      bench/mmap-pairs (ours): ns per mmap+munmap pair, per mmap refused before the kernel (the wrapper alone), per
//      refused munmap, per dlsym passed through and per dlsym the shim substitutes, in the same modes.
//      --baseline-shim FILE adds another build of the shim (e.g. the main branch's) to both, idle and at 512 KiB.
//   2. The peer benchmark (../shared/peer-bench next to the repository, when it exists): its malloc-bench in the
//      same four modes, and its JVM workload bare vs under `leakhunt run` (throughput, peak RSS, the ranking), then
//      one perf profile of that workload bare and under the shim (bench/jvm-profile.mjs), and one of the malloc-bench
//      under the shim per thread count (bench/malloc-profile.mjs); --no-profile skips both.
//   3. Unwinding: bench/unwind-cost, each unwinder's cost per capture and the frames it finds, on a chain built
//      without frame pointers; a JIT-like frame; and the shim's full cost per sampled allocation.
//   4. Analysis: processing a synthetic run directory (bench/synthetic-run.mjs: 360 raw snapshots of 50 000 stacks
//      whose pcs point into this machine's real objects) with `leakhunt report DIR` — symbolize, profiles, analysis,
//      report.json, report.html — end to end, wall time, peak RSS and phases.
// Rounds are interleaved (A B C D A B C D …) and medians reported; one-thread runs are pinned to a CPU per round
// and compared with bare within the round (pinning.mjs). Nothing here asserts on timings.
//
// usage: node bench/run.mjs [--quick] [--rounds N] [--no-jvm] [--no-profile] [--no-peer | --peer DIR] [--no-analysis] [--keep]
//                           [--baseline RESULTS.md]   (the previous figures shown beside "unchanged"; default bench/RESULTS.md)
//                           [--baseline-shim FILE]
// Writes the tables to stdout and to bench/RESULTS.md (a --quick run writes bench/build/RESULTS-quick.md).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shimCflags } from '../scripts/build-native.mjs';
import { profileJvm } from './jvm-profile.mjs';
import { profileMallocBench } from './malloc-profile.mjs';
import { pinned, pinningNote, pinsRuns, valuesByCpu } from './pinning.mjs';
import { fmt, fmtRatio, fmtSigned, median, mib } from './figures.mjs';
import { table } from './markdown.mjs';
import { targetsSection } from './targets.mjs';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const benchDir = join(repo, 'bench');
const buildDir = join(benchDir, 'build');
const shim = join(repo, 'native', 'build', 'libleakhunt.so');
const cli = join(repo, 'dist', 'src', 'cli.js');
const cc = process.env.CC || 'cc';

// ---- options ----

function parseOptions(argv) {
  const o = { quick: false, rounds: undefined, jvm: true, profile: true, peer: undefined, keep: false, analysis: true, baseline: undefined, baselineShim: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--no-jvm') o.jvm = false;
    else if (a === '--no-profile') o.profile = false;
    else if (a === '--no-peer') o.peer = null;
    else if (a === '--no-analysis') o.analysis = false;
    else if (a === '--keep') o.keep = true;
    else if (a === '--peer' && argv[i + 1]) o.peer = resolve(argv[++i]);
    else if (a === '--baseline' && argv[i + 1]) o.baseline = resolve(argv[++i]);
    else if (a === '--baseline-shim' && argv[i + 1]) o.baselineShim = resolve(argv[++i]);
    else if (a === '--rounds' && /^[1-9][0-9]*$/.test(argv[i + 1] ?? '')) o.rounds = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--quick] [--rounds N] [--no-jvm] [--no-profile] [--no-peer | --peer DIR] [--no-analysis] [--keep] [--baseline RESULTS.md] [--baseline-shim FILE]');
      process.exit(0);
    } else {
      console.error(`bench: unknown option ${a} (try --help)`);
      process.exit(2);
    }
  }
  return o;
}

const opts = parseOptions(process.argv.slice(2));
const microRounds = opts.rounds ?? (opts.quick ? 2 : 5);
const jvmRounds = opts.rounds ?? (opts.quick ? 1 : 3);
const microPairs = opts.quick ? 1_000_000 : 5_000_000;
const peerPairs = opts.quick ? 1_000_000 : 5_000_000;
const jvmSeconds = opts.quick ? 4 : 12;
const sampledPairs = opts.quick ? 200_000 : 1_000_000;
/** Untimed pairs first (malloc-pairs -W): the shim builds its unwind tables for a stack within ~100 ms. */
const sampledWarmupMs = 400;
const unwindIterations = opts.quick ? 2000 : 10000;
const analysisRounds = opts.rounds ?? (opts.quick ? 1 : 3);
const analysisSize = opts.quick ? { snapshots: 60, stacks: 5000 } : { snapshots: 360, stacks: 50_000 };
/** Issue #7's target for the full size. */
const analysisTargetSec = 10;
const nproc = availableParallelism();
const threadCounts = [...new Set([1, 2, nproc])].sort((a, b) => a - b);

const say = (line) => process.stderr.write(`bench: ${line}\n`);

/** Per CPU, the median of the per-round values of the rounds pinned to it ("cpu0 140 · cpu1 187"); '' unpinned. */
function perCpuMedians(values) {
  if (!pinsRuns) return '';
  return [...valuesByCpu(values)].map(([cpu, xs]) => `cpu${cpu} ${fmt(median(xs), 0)}`).join(' · ');
}

/** Issue #12's targets, filled in by the sections that measure them and summed up at the top of RESULTS.md. */
const targets = {};

// ---- helpers ----

function run(file, args, options = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw new Error(`${file}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${[file, ...args].join(' ')} exited with ${r.status ?? r.signal}\n${(r.stderr || '').trim().slice(-2000)}`);
  }
  return r.stdout;
}

function field(text, name) {
  const m = new RegExp(`\\b${name}=([0-9.]+)`).exec(text);
  if (!m) throw new Error(`no ${name}= in output:\n${text.trim().slice(-1000)}`);
  return Number(m[1]);
}

function firstLine(file, args) {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
}

/** The environment every measured process starts from: no preload, no LEAKHUNT_* left over from the caller. */
function cleanEnv() {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  for (const k of Object.keys(env)) if (k.startsWith('LEAKHUNT_')) delete env[k];
  return env;
}

// ---- building ----

let tmpRoot;

function build() {
  if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.error(`bench: no C compiler (${cc}): install one, e.g. apt-get install build-essential`);
    process.exit(4);
  }
  if (!existsSync(shim)) {
    say('building the shim');
    run(process.execPath, [join(repo, 'scripts', 'build-native.mjs'), '--quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  mkdirSync(buildDir, { recursive: true });
  const base = ['-O2', '-g', '-Wall', '-Wextra', '-pthread'];
  run(cc, [...base, '-o', join(buildDir, 'malloc-pairs'), join(benchDir, 'malloc-pairs.c'), '-ldl']);
  run(cc, [...base, '-o', join(buildDir, 'mmap-pairs'), join(benchDir, 'mmap-pairs.c'), '-ldl']);

  const probe = spawnSync(cc, ['-fsyntax-only', '-x', 'c', '-'], { input: '#define UNW_LOCAL_ONLY\n#include <libunwind.h>\n', encoding: 'utf8' });
  const haveLibunwind = probe.status === 0;
  const source = join(benchDir, 'unwind-cost.c');
  // The shim's own unwinder, built as the shim builds it, linked into unwind-cost as one more method.
  const nativeDir = join(repo, 'native');
  const tables = ['unwind_walk.c', 'unwind_tables.c', 'unwind_cfi.c', 'platform.c'].map((file) => {
    const object = join(buildDir, `shim-${file.replace(/\.c$/, '.o')}`);
    run(cc, [...shimCflags, '-c', '-o', object, join(nativeDir, file)]);
    return object;
  });
  for (const variant of ['nofp', 'fp']) {
    const fp = variant === 'fp' ? '-fno-omit-frame-pointer' : '-fomit-frame-pointer';
    const lib = `uwc-chain-${variant}`;
    run(cc, [...base, fp, '-DUWC_CHAIN_LIB', '-shared', '-fPIC', '-o', join(buildDir, `lib${lib}.so`), source]);
    run(cc, [...base, fp, `-DUWC_VARIANT="${variant}"`, ...(haveLibunwind ? ['-DUWC_HAVE_LIBUNWIND'] : []),
      '-DUWC_HAVE_TABLES', `-I${nativeDir}`, '-o', join(buildDir, `unwind-cost-${variant}`), source, ...tables,
      `-L${buildDir}`, `-l${lib}`, '-Wl,-rpath,$ORIGIN', '-ldl', '-lgcc_s', '-lm']);
  }
  return { haveLibunwind };
}

// ---- the four shim modes ----

const MODES = [
  { key: 'bare', label: 'bare' },
  { key: 'idle', label: 'shim idle (unsampled path)' },
  { key: '512k', label: 'shim, 512 KiB sampling', sampleBytes: 524288 },
  { key: '64k', label: 'shim, 64 KiB sampling', sampleBytes: 65536 },
];

/** With --baseline-shim: the same shim modes with another build of the shim, to compare two builds in one sitting. */
function modesWithBaseline() {
  if (!opts.baselineShim) return MODES;
  return [...MODES,
    { key: 'base-idle', label: 'baseline shim idle', shim: opts.baselineShim },
    { key: 'base-512k', label: 'baseline shim, 512 KiB sampling', sampleBytes: 524288, shim: opts.baselineShim }];
}

function modeEnv(mode) {
  const env = cleanEnv();
  if (mode.key === 'bare') return env;
  env.LD_PRELOAD = mode.shim ?? shim;
  if (mode.sampleBytes !== undefined) {
    env.LEAKHUNT_DIR = mkdtempSync(join(tmpRoot, 'raw-'));
    env.LEAKHUNT_SAMPLE_BYTES = String(mode.sampleBytes);
  }
  return env;
}

/** Runs every (case, mode) once per round, in the same order each round; returns medians per case and mode. */
function interleaved(name, cases, modes, rounds, runOne) {
  const results = new Map(cases.map((c) => [c.key, new Map(modes.map((m) => [m.key, []]))]));
  for (let r = 1; r <= rounds; r++) {
    say(`${name}: round ${r}/${rounds}`);
    for (const c of cases) for (const m of modes) results.get(c.key).get(m.key).push(runOne(c, m, r));
  }
  return results;
}

/** A mode against bare, round by round (same round, same CPU): the medians of their ratios and differences. */
function paired(results, caseKey, modeKey, baseKey = 'bare') {
  const base = results.get(caseKey).get(baseKey);
  const values = results.get(caseKey).get(modeKey);
  return { ratio: median(values.map((x, i) => x / base[i])), added: median(values.map((x, i) => x - base[i])) };
}

function pairRows(cases, modes, results) {
  const rows = [];
  for (const c of cases) {
    for (const m of modes) {
      const values = results.get(c.key).get(m.key);
      const { ratio, added } = paired(results, c.key, m.key);
      rows.push([c.label, m.label, fmt(median(values), 1), `${fmt(Math.min(...values), 1)}–${fmt(Math.max(...values), 1)}`,
        m.key === 'bare' ? '1.00×' : fmtRatio(ratio), m.key === 'bare' ? '' : fmtSigned(added, 1)]);
    }
  }
  return rows;
}

const PAIR_HEADER = ['threads', 'mode', 'ns/pair (median)', 'range', 'ratio to bare', 'added ns/pair'];

// ---- 1. our microbenchmark ----

function microbenchmark() {
  const bin = join(buildDir, 'malloc-pairs');
  const modes = modesWithBaseline();
  const cases = threadCounts.map((t) => ({ key: String(t), label: t === nproc ? `${t} (nproc)` : String(t), threads: t }));
  // One more mode here: the shim loaded as leakhunt attach loads it, its run stopped — the idle GOT hooks a JVM keeps
  // after leakhunt detach (issue #13's target: at most +3 ns per pair).
  const detached = { key: 'detached', label: 'attached, then detached (idle GOT hooks)' };
  const withDetached = [...modes.slice(0, 2), detached, ...modes.slice(2)];
  const attachArgs = (m) => (m.key === 'detached' ? ['-a', shim, '-r', mkdtempSync(join(tmpRoot, 'raw-'))] : []);
  const results = interleaved('malloc-pairs', cases, withDetached, microRounds,
    (c, m, r) => field(run(...pinned(bin, ['-n', String(microPairs), '-t', String(c.threads), ...attachArgs(m)], c.threads, r), { env: modeEnv(m.key === 'detached' ? MODES[0] : m) }), 'ns_per_pair'));
  return `### bench/malloc-pairs: ${microPairs.toLocaleString('en')} malloc+free pairs per thread, ${microRounds} rounds\n\n`
    + table(PAIR_HEADER, pairRows(cases, withDetached, results));
}

/** Per call of the mmap family and dlsym: steps per round for each kind (the slow ones are system calls). */
const MMAP_KINDS = [
  { key: 'pair', label: 'mmap + munmap of 64 KiB (two system calls)', steps: opts.quick ? 50_000 : 200_000 },
  { key: 'refused', label: 'mmap refused by glibc before the kernel (the wrapper alone)', steps: opts.quick ? 4_000_000 : 20_000_000 },
  { key: 'munmap', label: 'munmap refused by the kernel (EINVAL): the filter check + a system call', steps: opts.quick ? 200_000 : 1_000_000 },
  { key: 'dlsym', label: 'dlsym(RTLD_DEFAULT, "puts"): passed through', steps: opts.quick ? 500_000 : 3_000_000 },
  { key: 'dlsym-malloc', label: 'dlsym(libc, "malloc"): the shim\'s malloc returned', steps: opts.quick ? 300_000 : 2_000_000 },
];

function mmapMicrobenchmark() {
  const bin = join(buildDir, 'mmap-pairs');
  const modes = modesWithBaseline();
  const results = interleaved('mmap-pairs', MMAP_KINDS, modes, microRounds,
    (c, m, r) => field(run(...pinned(bin, ['-k', c.key, '-n', String(c.steps)], 1, r), { env: modeEnv(m) }), 'ns_per_step'));
  const header = ['call', 'mode', 'ns/call (median)', 'range', 'ratio to bare', 'added ns/call'];
  return `### bench/mmap-pairs: the mmap family and dlsym, ns per call, 1 thread, ${microRounds} rounds\n\n`
    + `${table(header, pairRows(MMAP_KINDS, modes, results))}\n\n`
    + 'A system call costs about a microsecond here, and varies by more than the wrapper costs: the refused mmap (no'
    + ' system call) is the unsampled path\'s own cost. At 512 KiB and 64 KiB a refused mmap of 64 KiB still crosses'
    + ' the countdown as often as a real one would (the sampler\'s draw, no stack: nothing is recorded).';
}

// ---- 2. the peer benchmark ----

function writable(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      chmodSync(path, 0o755);
      writable(path);
    } else if (entry.isFile()) {
      chmodSync(path, statSync(path).mode | 0o600);
    }
  }
}

function preparePeer(source) {
  const dir = join(tmpRoot, 'peer-bench');
  cpSync(source, dir, { recursive: true, filter: (from) => relative(source, from) !== 'build' });
  chmodSync(dir, 0o755);
  writable(dir);
  say('building the peer benchmark (its build.sh, in a temporary copy)');
  const r = spawnSync('sh', ['build.sh'], { cwd: dir, encoding: 'utf8', env: cleanEnv() });
  const mallocBench = join(dir, 'build', 'malloc-bench');
  const jvm = r.status === 0 && existsSync(join(dir, 'build', 'classes'));
  if (r.status !== 0) say(`peer build.sh failed (${(r.stderr || '').trim().split('\n').pop()}): ${existsSync(mallocBench) ? 'JVM workload skipped' : 'peer workloads skipped'}`);
  return { dir, mallocBench: existsSync(mallocBench) ? mallocBench : undefined, jvm };
}

function peerMallocBench(bin) {
  const cases = [1, 2].map((t) => ({ key: String(t), label: String(t), threads: t }));
  const results = interleaved('peer malloc-bench', cases, MODES, microRounds,
    (c, m, r) => field(run(...pinned(bin, ['-n', String(peerPairs), '-t', String(c.threads)], c.threads, r), { env: modeEnv(m) }), 'ns_per_pair'));
  targets.peerMalloc = cases.map((c) => ({
    threads: c.threads, ratio: paired(results, c.key, '512k').ratio, idleAddedNs: paired(results, c.key, 'idle').added,
  }));
  let profile = '';
  if (opts.profile) {
    const profiledPairs = 4 * peerPairs;
    const sampling = MODES.find((m) => m.key === '512k');
    const p = profileMallocBench({
      commandOf: (threads) => pinned(bin, ['-n', String(profiledPairs), '-t', String(threads)], threads, 1).flat(),
      env: () => modeEnv(sampling), threadCounts: cases.map((c) => c.threads), pairs: profiledPairs, tmpRoot, say,
    });
    for (const t of targets.peerMalloc) t.profile = p.byThreads?.[t.threads];
    profile = `\n\n${p.text}`;
  }
  return `### peer malloc-bench: -n ${peerPairs} -t 1 and -t 2, ${microRounds} rounds\n\n`
    + `${table(PAIR_HEADER, pairRows(cases, MODES, results))}${profile}`;
}

const clockTicks = Number(firstLine('getconf', ['CLK_TCK'])) || 100;

/** utime + stime of every thread of `pid` so far, in clock ticks (/proc/<pid>/stat fields 14 and 15). */
function cpuTicksOf(pid, withChildren = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime; with the children it has waited for (cutime + cstime): what it ran, and started, that ended.
    return Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  } catch {
    return undefined;
  }
}

function readStatus(pid) {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

/** A child of `parent` whose command name is `comm`, or undefined. */
function findChild(parent, comm) {
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    const name2 = stat.slice(stat.indexOf('(') + 1, close);
    if (ppid === parent && name2 === comm) return Number(name);
  }
  return undefined;
}

/**
 * Runs a command and reads the JVM's VmHWM (peak RSS) from /proc/<pid>/status every 100 ms; the last reading
 * before it exits is its peak. The same method for the bare JVM (the spawned process execs java) and under
 * leakhunt (java is the CLI's child). Under leakhunt, also the CPU the CLI used while the JVM ran — its own and
 * that of the processes it started and saw end meanwhile — from the first reading to the last (the JVM is not yet
 * waited for then, so none of its CPU is in it).
 */
function runWatchingPeak(file, args, options, javaIsChild) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    let javaPid = javaIsChild ? undefined : child.pid;
    let hwmKiB = 0;
    let cpuTicks = 0;
    let cliTicksAtStart;
    let cliTicks;
    const timer = setInterval(() => {
      if (javaPid === undefined) javaPid = findChild(child.pid, 'java');
      if (javaPid === undefined) return;
      const status = readStatus(javaPid);
      if (!status || !/^Name:\s*java$/m.test(status)) return;
      const m = /^VmHWM:\s*([0-9]+) kB/m.exec(status);
      if (m) hwmKiB = Number(m[1]);
      const ticks = cpuTicksOf(javaPid);
      if (ticks !== undefined) cpuTicks = ticks;
      if (!javaIsChild) return;
      const cli = cpuTicksOf(child.pid, true);
      if (cli === undefined) return;
      cliTicksAtStart ??= cli;
      cliTicks = cli;
    }, 100);
    child.on('error', (e) => { clearInterval(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      if (code !== 0) reject(new Error(`${file} ${args.join(' ')} exited with ${code ?? signal}\n${stderr.trim().slice(-2000)}`));
      else resolvePromise({ stdout, stderr, hwmKiB, cpuSeconds: cpuTicks / clockTicks,
        cliCpuSeconds: cliTicks === undefined ? undefined : (cliTicks - cliTicksAtStart) / clockTicks });
    });
  });
}

async function peerJvm(peerDir) {
  const java = process.env.JAVA || '/usr/lib/jvm/java-17-openjdk-amd64/bin/java';
  // run-java.sh runs exactly this (its own defaults, no extra java options):
  const javaCommand = [java, '-Xmx128m', '-Djava.library.path=build', '-cp', 'build/classes', 'bench.NativeChurn',
    '--seconds', String(jvmSeconds)];
  const env = cleanEnv();
  // The shim and its agent loaded straight into the JVM, as the CLI would, but without the CLI around it (its
  // hsperfdata reads, its processing and its RSS watch run on the same two cores): the in-process cost, and with LEAKHUNT_JAVA_STACKS=0 (the agent
  // idle) what Java stacks add to it.
  const inProcessEnv = (javaStacks) => ({
    ...env, LD_PRELOAD: shim, LEAKHUNT_DIR: mkdtempSync(join(tmpRoot, 'raw-jvm-')), LEAKHUNT_INTERVAL_MS: '1000',
    JAVA_TOOL_OPTIONS: `-agentpath:${shim}`, ...(javaStacks ? {} : { LEAKHUNT_JAVA_STACKS: '0' }),
  });
  const runJava = (modeEnv) => runWatchingPeak('sh', ['./run-java.sh', '--', '--seconds', String(jvmSeconds)], { cwd: peerDir, env: modeEnv }, false);
  const modes = [
    { key: 'bare', label: 'bare (run-java.sh)', run: () => runJava(env) },
    { key: 'leakhunt', label: 'leakhunt run, 512 KiB, 1 s snapshots', run: (r) => runWatchingPeak(process.execPath,
      [cli, 'run', '-q', '--out', join(tmpRoot, `leakhunt-jvm-${r}`), '--interval', '1s', '--', ...javaCommand], { cwd: peerDir, env }, true) },
    { key: 'inProcess', label: 'the shim and agent alone (no CLI), 1 s snapshots', run: () => runJava(inProcessEnv(true)) },
    { key: 'inProcessNative', label: 'the same, Java stacks off (LEAKHUNT_JAVA_STACKS=0)', run: () => runJava(inProcessEnv(false)) },
  ];
  const results = Object.fromEntries(modes.map((m) => [m.key, { ops: [], hwm: [], cpu: [], cliShare: [] }]));
  const rounds = [];
  for (let r = 1; r <= jvmRounds; r++) {
    for (const mode of modes) {
      say(`JVM workload: round ${r}/${jvmRounds}, ${mode.label}`);
      const x = await mode.run(r);
      results[mode.key].ops.push(field(x.stdout, 'ops_per_s'));
      results[mode.key].hwm.push(x.hwmKiB * 1024);
      results[mode.key].cpu.push((x.cpuSeconds * 1e6) / field(x.stdout, 'ops'));
      if (x.cliCpuSeconds !== undefined && x.cpuSeconds > 0) results[mode.key].cliShare.push(x.cliCpuSeconds / x.cpuSeconds);
      if (mode.key !== 'leakhunt')
        continue;
      const report = JSON.parse(readFileSync(join(tmpRoot, `leakhunt-jvm-${r}`, 'report.json'), 'utf8'));
      const leak = report.sites.find((s) => s.function.includes('record_thread_name'));
      const churn = report.sites.find((s) => s.function.includes('churn_buffers'));
      rounds.push({
        round: r, verdict: report.verdict.kind, snapshots: report.snapshots, leakRank: leak?.rank, leakStatus: leak?.status,
        churnStatus: churn?.status ?? 'not listed', shimMapped: report.shim?.shimMappedBytes,
        shimResident: report.shim?.shimResidentBytes, samples: report.shim?.samples, javaStacks: report.shim?.javaStacks,
        fastUnwinds: report.shim?.fastUnwinds, ops: field(x.stdout, 'ops'),
      });
    }
  }
  const med = (key, what) => median(results[key][what]);
  const bOps = med('bare', 'ops');
  const bHwm = med('bare', 'hwm');
  const bCpu = med('bare', 'cpu');
  // AsyncGetCallTrace (and the agent around it): the CPU per operation Java stacks add, and per Java stack taken.
  const javaStacksPerOp = median(rounds.map((x) => (x.javaStacks ?? 0) / x.ops));
  const agctUsPerOp = med('inProcess', 'cpu') - med('inProcessNative', 'cpu');
  // Round by round: each mode's run over the bare run of the same round (they ran minutes apart at most), whose
  // spread says how much a ratio of medians can be trusted on this machine.
  const perRound = (key, what) => results[key][what].map((x, i) => x / results.bare[what][i]);
  targets.jvm = {
    opsRatio: med('leakhunt', 'ops') / bOps, cpuRatio: med('leakhunt', 'cpu') / bCpu,
    opsPerRound: perRound('leakhunt', 'ops'), cpuPerRound: perRound('leakhunt', 'cpu'),
    inProcessOpsRatio: med('inProcess', 'ops') / bOps, inProcessCpuRatio: med('inProcess', 'cpu') / bCpu,
    residentBytes: Math.max(...rounds.map((x) => x.shimResident ?? 0)),
  };
  const range = (v, f) => `${f(Math.min(...v))}–${f(Math.max(...v))}`;
  const ops = (x) => x.toFixed(0);
  const us = (x) => x.toFixed(1);
  const summary = table(['JVM NativeChurn', 'ops/s (median)', 'range', 'ratio to bare', 'JVM CPU µs per op (median)', 'range', 'ratio',
    'peak RSS, VmHWM (median)', 'RSS range'], modes.map((m) => {
    const x = results[m.key];
    const o = median(x.ops), c = median(x.cpu), h = median(x.hwm);
    return [m.label, ops(o), range(x.ops, ops), m.key === 'bare' ? '1.00×' : fmtRatio(o / bOps), us(c), range(x.cpu, us),
      m.key === 'bare' ? '1.00×' : fmtRatio(c / bCpu), m.key === 'bare' ? mib(h) : `${mib(h)} (${fmtSigned((h - bHwm) / 1048576, 1)} MiB)`,
      range(x.hwm, mib)];
  }));
  const details = table(['leakhunt round', 'verdict', 'snapshots', 'record_thread_name', 'churn_buffers', 'samples',
    'through the tables', 'Java stacks', 'shimMappedBytes', 'shim resident'],
  rounds.map((x) => [String(x.round), x.verdict, String(x.snapshots),
    x.leakRank === undefined ? 'not found' : `#${x.leakRank} (${x.leakStatus})${x.leakRank === 1 ? '' : ' — NOT #1'}`,
    x.churnStatus, String(x.samples), x.samples ? `${((100 * (x.fastUnwinds ?? 0)) / x.samples).toFixed(0)}%` : '–',
    String(x.javaStacks ?? '–'), x.shimMapped === undefined ? '–' : `${x.shimMapped} (${mib(x.shimMapped)})`,
    x.shimResident === undefined ? '–' : mib(x.shimResident)]));
  let profile = '';
  if (opts.profile) {
    const p = profileJvm({ command: javaCommand, cwd: peerDir, bareEnv: env, shimEnv: inProcessEnv(true), tmpRoot, say });
    targets.jvm.profile = p.shares;
    profile = `\n\n${p.text}`;
  }
  // Per Java stack: from the profile when there is one (one run's own share, not a difference of two noisy medians).
  const profiledUsPerOp = targets.jvm.profile ? targets.jvm.profile.javaStack * med('inProcess', 'cpu') : NaN;
  const perStackNs = (usPerOp) => (javaStacksPerOp > 0 && Number.isFinite(usPerOp) ? `≈ ${((usPerOp / javaStacksPerOp) * 1000).toFixed(0)} ns` : '–');
  const fromProfile = Number.isFinite(profiledUsPerOp)
    ? `${(100 * targets.jvm.profile.javaStack).toFixed(1)}% of the JVM's CPU samples under the shim (perf, below): ≈ ${profiledUsPerOp.toFixed(2)} µs of`
      + ` CPU per operation, over about ${javaStacksPerOp.toFixed(2)} Java stacks per operation: ${perStackNs(profiledUsPerOp)} per Java stack taken.`
      + ' The difference of the two rows without the CLI, Java stacks on and off, says'
      + ` ${fmtSigned(agctUsPerOp, 2)} µs per operation (${perStackNs(agctUsPerOp)} per Java stack): two medians of runs that spread more than that.`
    : `${fmtSigned(agctUsPerOp, 2)} µs of JVM CPU per operation with them than without (the two rows without the CLI:`
      + ` ${fmtSigned((100 * agctUsPerOp) / bCpu, 1)}% of the bare run's CPU per operation; two medians, noisy), over about`
      + ` ${javaStacksPerOp.toFixed(2)} Java stacks per operation: ${perStackNs(agctUsPerOp)} per Java stack taken.`;
  const agct = `**Java stacks (AsyncGetCallTrace, the agent's preparation of jmethodIDs, method resolution):** ${fromProfile}`
    + ' Between the leakhunt run and the shim alone is the CLI\'s own work on the same two cores: its'
    + ' hsperfdata reads at every snapshot, the JVM\'s ranges and perf maps asked over its attach socket, processing, the RSS watch:'
    + ` the CLI used ${cliShareText(results.leakhunt.cliShare)} while the JVM ran (its own CPU and that of any process it started, over the JVM's).`;
  return `### peer JVM workload: run-java.sh -- --seconds ${jvmSeconds}, ${jvmRounds} rounds, bare and under leakhunt alternately\n\n`
    + `${summary}\n\nPeak RSS: the JVM's VmHWM from /proc/<pid>/status, read every 100 ms, last reading before exit (same method in both modes).`
    + ' CPU per op: the JVM process\'s utime + stime from /proc/<pid>/stat at that last reading, over its ops= count; it'
    + ' counts the shim\'s and the agent\'s work inside the JVM, not the CLI\'s, and is less disturbed than ops/s by'
    + ` other load on the machine.\n\n${agct}\n\n${details}${profile}`;
}

/** The CLI's CPU as a share of the JVM's: the median and range over the rounds. */
function cliShareText(shares) {
  if (shares.length === 0) return 'an amount not measured';
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  return `${pct(median(shares))} of the JVM's CPU (median; ${pct(Math.min(...shares))}–${pct(Math.max(...shares))})`;
}

// ---- 3. unwinding ----

/**
 * From the newest raw snapshot under `rawDir` (native/FORMAT.md): the native depth of the most-sampled stack, and
 * the COUNTERS `samples` and `fast_unwinds` (samples whose stack the shim's own tables captured).
 */
function snapshotFacts(rawDir) {
  try {
    const pidDir = readdirSync(rawDir).map((d) => join(rawDir, d)).find((d) => statSync(d).isDirectory());
    const file = readdirSync(pidDir).filter((f) => f.endsWith('.lhs')).sort().pop();
    const b = readFileSync(join(pidDir, file));
    const depth = new Map();
    let best = { id: -1, samples: -1n };
    const counters = {};
    for (let at = 16; at + 8 <= b.length;) {
      const type = b.readUInt32LE(at);
      const bytes = b.readUInt32LE(at + 4);
      let p = at + 8;
      if (type === 2) { // COUNTERS: samples is the first u64, fast_unwinds the 21st (176 bytes, format 3)
        counters.samples = Number(b.readBigUInt64LE(p));
        if (bytes >= 176) counters.fastUnwinds = Number(b.readBigUInt64LE(p + 20 * 8));
      } else if (type === 6) { // STACKS: u32 count, then { u32 id, u16 native, u16 java, u64 pc[native], 16-byte java frames }
        const count = b.readUInt32LE(p);
        p += 4;
        for (let i = 0; i < count; i++) {
          const native = b.readUInt16LE(p + 4);
          depth.set(b.readUInt32LE(p), native);
          p += 8 + 8 * native + 16 * b.readUInt16LE(p + 6);
        }
      } else if (type === 7) { // SITES: u32 count, u32 entry_bytes, entries (stack_id at 0, alloc_samples at 40)
        const count = b.readUInt32LE(p);
        const entryBytes = b.readUInt32LE(p + 4);
        for (let i = 0; i < count; i++) {
          const e = p + 8 + i * entryBytes;
          const samples = b.readBigUInt64LE(e + 40);
          if (samples > best.samples) best = { id: b.readUInt32LE(e), samples };
        }
      } else if (type === 0xffff) {
        break;
      }
      at += 8 + bytes;
    }
    return { depth: depth.get(best.id), ...counters };
  } catch {
    return {}; // no snapshot: the table says so
  }
}

function parseLines(text, kind) {
  return text.split('\n').filter((l) => l.startsWith(`${kind} `)).map((l) => Object.fromEntries(
    l.slice(kind.length + 1).trim().split(/\s+/).map((kv) => kv.split('='))));
}

const METHOD_LABELS = {
  libgcc: 'libgcc _Unwind_Backtrace (the shim\'s fallback)', tables: 'leakhunt tables (the shim)', glibc: 'glibc backtrace()',
  unw_backtrace: 'libunwind unw_backtrace',
  unw_step: 'libunwind unw_step loop', fp: 'frame pointers (checked)', fp_unchecked: 'frame pointers (unchecked)',
};

function unwinding(haveLibunwind) {
  const depths = ['10', '30', '60'];
  const warm = [];
  const cold = [];
  const notes = [];
  for (const variant of ['nofp', 'fp']) {
    say(`unwind-cost (${variant})`);
    const out = run(join(buildDir, `unwind-cost-${variant}`), ['-i', String(unwindIterations), ...depths], { env: cleanEnv() });
    const missing = out.split('\n').find((l) => l.startsWith('libunwind unavailable'));
    if (missing && variant === 'nofp') notes.push(`${missing} (install libunwind-dev to measure it)`);
    warm.push(...parseLines(out, 'unwind'));
    cold.push(...parseLines(out, 'unwind-cold'));
  }
  const methods = [...new Set(warm.map((x) => x.method))];
  const cell = (rows, variant, depth, method, withFrames) => {
    const x = rows.find((r) => r.variant === variant && r.depth === depth && r.method === method);
    if (!x) return '–';
    const ns = Number(x.median_ns);
    const time = ns < 20 ? '<20 ns' : `${ns} ns`;
    return withFrames ? `${time} / ${x.frames}${Number(x.same_as_libgcc) !== Number(x.frames) ? ` (${x.same_as_libgcc} same)` : ''}` : time;
  };
  const variantLabel = { nofp: 'no frame pointers', fp: 'frame pointers in our code, not in glibc' };
  const warmRows = [];
  for (const variant of ['nofp', 'fp']) {
    for (const d of depths) warmRows.push([variantLabel[variant], d, ...methods.map((m) => cell(warm, variant, d, m, true))]);
  }
  const coldRows = depths.map((d) => [d, ...methods.map((m) => cell(cold, 'nofp', d, m, false))]);

  say('unwind-cost --stub (a JIT-like frame)');
  const stubOut = run(join(buildDir, 'unwind-cost-fp'), ['--stub'], { env: cleanEnv() });
  const stubRows = parseLines(stubOut, 'stub').map((x) => [
    { guard: 'points into a PROT_NONE page', fake: 'points at a fake frame on the stack',
      framed: 'a real frame pointer (like -XX:+PreserveFramePointer)' }[x.rbp] ?? x.rbp,
    METHOD_LABELS[x.method] ?? x.method,
    x.result === 'ok' ? 'ok' : `**crashed (SIG${x.signal})**`,
    x.result === 'ok' ? (x.stub_not_reached ? `${x.frames_to_stub} (never reached it)` : x.frames_to_stub) : '–',
    x.result === 'ok' ? `${x.beyond} (${x.correct} correct)` : '–',
    x.result === 'ok' ? (Number(x.median_ns) < 20 ? '<20' : x.median_ns) : '–',
  ]);

  // (e) the shim's whole cost per sampled allocation: every allocation sampled vs none.
  const sampledModes = [
    { key: 'idle', label: 'shim idle' },
    { key: 'all', label: 'every allocation sampled', sampleBytes: 1 },
  ];
  const sampledCases = [0, 30].map((d) => ({ key: String(d), label: String(d), depth: d }));
  const bin = join(buildDir, 'malloc-pairs');
  const captured = new Map();
  const sampled = interleaved('sampled-allocation cost', sampledCases, sampledModes, microRounds, (c, m, r) => {
    const env = modeEnv(m);
    const out = run(...pinned(bin, ['-n', String(sampledPairs), '-t', '1', '-d', String(c.depth), '-W', String(sampledWarmupMs)], 1, r), { env });
    if (env.LEAKHUNT_DIR) captured.set(c.key, snapshotFacts(env.LEAKHUNT_DIR));
    return field(out, 'cpu_ns_per_pair'); // a cost, so the thread's CPU time: waiting for a busy core does not count
  });
  targets.perSample = [];
  const sampledRows = sampledCases.map((c) => {
    const idle = median(sampled.get(c.key).get('idle'));
    const all = median(sampled.get(c.key).get('all'));
    const added = paired(sampled, c.key, 'all', 'idle').added;
    const idleRuns = sampled.get(c.key).get('idle');
    const differences = sampled.get(c.key).get('all').map((x, i) => x - idleRuns[i]);
    const byCpu = perCpuMedians(differences);
    const cpuMedians = pinsRuns ? [...valuesByCpu(differences)].map(([cpu, xs]) => ({ cpu, ns: median(xs) })) : [];
    const facts = captured.get(c.key) ?? {};
    targets.perSample.push({ frames: facts.depth, ns: added, limitNs: c.depth === 0 ? 150 : 400, byCpu, cpuMedians });
    const share = facts.samples ? `${((100 * (facts.fastUnwinds ?? 0)) / facts.samples).toFixed(0)}%` : '–';
    return [`-d ${c.label}: ${facts.depth === undefined ? '? (no snapshot)' : facts.depth} frames captured`, fmt(idle, 1), fmt(all, 0),
      fmt(added, 0), ...(pinsRuns ? [byCpu] : []), share];
  });

  return [
    `### Unwinder per call, ns, median of ${unwindIterations} after a warm-up; frames found`,
    '',
    'At the bottom of a chain of D levels: -O2, half of them in a shared object, every tenth level through glibc\'s'
      + ' qsort callback. Cell: median ns / frames found from the capturing function outward (libgcc finds them'
      + ' all, down to _start; "(n same)" when fewer are identical to libgcc\'s).',
    '',
    table(['build', 'D', ...methods.map((m) => METHOD_LABELS[m] ?? m)], warmRows),
    '',
    `First capture on a new thread (no frame pointers), median over 200 threads — libunwind fills a per-thread cache first:`,
    '',
    table(['D', ...methods.map((m) => METHOD_LABELS[m] ?? m)], coldRows),
    ...(notes.length ? ['', ...notes] : []),
    '',
    '### A JIT-like frame: code without unwind information (build with frame pointers in our code)',
    '',
    'Each method in a forked child, so a crash is a result. "to the stub": frames found up to and including the'
      + ' stub; "beyond": frames reported past it (only the real callers would be correct).',
    '',
    table(['%rbp in that frame', 'method', 'result', 'to the stub', 'beyond (correct)', 'ns'], stubRows),
    '',
    `### The shim's whole cost per sampled allocation (bench/malloc-pairs, 1 thread, ${sampledPairs.toLocaleString('en')} pairs after ${sampledWarmupMs} ms of warm-up, ${microRounds} rounds)`,
    '',
    'LEAKHUNT_SAMPLE_BYTES=1 samples every malloc and so makes every free a sampled free; the difference to the idle'
      + ' shim, per pair, is the cost of one sampled malloc (stack capture, stack-table intern, liveness insert) plus'
      + ' one sampled free (liveness remove). Times are the thread\'s CPU time (malloc-pairs cpu_ns_per_pair). The warm-up lets the shim build the unwind tables of the stack (its'
      + ' writer does so within a few ms of the first request); the cost per sample is the median of the rounds\' differences (and, with runs pinned, the median of'
      + ' each CPU\'s rounds: a core slowed by its host shows here); the last column is the share of all the run\'s samples, warm-up included,'
      + ' whose stack the tables captured (COUNTERS fast_unwinds).',
    '',
    table(['stack at malloc (the most-sampled one in the shim\'s snapshot)', 'idle, CPU ns/pair', 'all sampled, CPU ns/pair', 'cost per sample, ns',
      ...(pinsRuns ? ['the same, per CPU'] : []), 'through the tables'], sampledRows),
  ].join('\n');
}

// ---- 4. analysis ----

/** Builds dist/ (the CLI) when it is missing. */
function ensureCli() {
  if (existsSync(cli)) return;
  say('building the CLI (tsc)');
  run(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.json')]);
}

/** Runs `leakhunt report DIR` on an unprocessed run directory; its wall time and LEAKHUNT_TIMINGS line. */
function processOnce(dir) {
  for (const name of ['snapshots', 'timeline.json', 'report.json', 'report.html']) rmSync(join(dir, name), { recursive: true, force: true });
  const started = performance.now();
  const r = spawnSync(process.execPath, [cli, 'report', dir, '--format', 'text'], {
    encoding: 'utf8', maxBuffer: 64 << 20, env: { ...cleanEnv(), LEAKHUNT_TIMINGS: '1' },
  });
  const wallMs = performance.now() - started;
  if (r.status !== 0) throw new Error(`leakhunt report exited with ${r.status ?? r.signal}\n${(r.stderr || '').trim().slice(-2000)}`);
  const line = (r.stderr || '').split('\n').find((l) => l.startsWith('leakhunt: timings: '));
  if (!line) throw new Error(`no timings line from leakhunt report:\n${(r.stderr || '').trim().slice(-2000)}`);
  return { wallMs, timings: JSON.parse(line.slice('leakhunt: timings: '.length)), firstLine: r.stdout.split('\n')[0] };
}

async function analysis() {
  ensureCli();
  const { captureTemplate, generateSyntheticRun } = await import('./synthetic-run.mjs');
  const template = join(buildDir, 'analysis-template.lhs');
  if (!existsSync(template)) {
    say('analysis: recording a template snapshot (node under the shim)');
    captureTemplate(template);
  }
  const { snapshots, stacks } = analysisSize;
  const dir = join(tmpRoot, 'analysis-run');
  say(`analysis: generating ${snapshots} raw snapshots of ${stacks} stacks`);
  const generationStarted = performance.now();
  let made;
  try {
    made = await generateSyntheticRun({ dir, template, snapshots, stacks, seed: 1 });
  } catch (error) {
    // A template from an older build (another snapshot format): record it again.
    say(`analysis: the template did not serve (${error.message.split('\n')[0]}): recording it again`);
    rmSync(dir, { recursive: true, force: true });
    captureTemplate(template);
    made = await generateSyntheticRun({ dir, template, snapshots, stacks, seed: 1 });
  }
  const generationSec = (performance.now() - generationStarted) / 1000;
  const rounds = [];
  for (let r = 1; r <= analysisRounds; r++) {
    say(`analysis: round ${r}/${analysisRounds}, leakhunt report on the unprocessed run`);
    rounds.push(processOnce(dir));
  }
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  const wall = rounds.map((x) => x.wallMs / 1000);
  const rss = rounds.map((x) => x.timings.peakRssBytes);
  const sec = (x) => `${x.toFixed(1)} s`;
  const range = (v, f) => `${f(Math.min(...v))}–${f(Math.max(...v))}`;
  const label = `${snapshots} snapshots × ${stacks >= 1000 ? `${stacks / 1000}k` : stacks} stacks`;
  const target = opts.quick ? '(full size: target < 10 s)' : `(target < ${analysisTargetSec} s)`;
  const summary = table(['workload', 'wall time (median)', 'range', 'peak RSS (median)', 'range'], [
    [`analysis ${label}`, `${sec(median(wall))} ${target}`, range(wall, sec), mib(median(rss)), range(rss, mib)],
  ]);
  const sentence = `analysis ${label}: ${sec(median(wall))} ${target}, peak RSS ${mib(median(rss))}`;
  const order = ['read raw snapshots', 'timeline', 'symbolize', 'encode profiles', 'wait for gzip and writes', 'analyse',
    'write timeline.json', 'write report.json', 'write report.html'];
  const phases = [...new Set([...order, ...rounds.flatMap((x) => Object.keys(x.timings.phasesMs))])]
    .filter((phase) => rounds.some((x) => phase in x.timings.phasesMs));
  const sec2 = (x) => `${x.toFixed(2)} s`;
  const phaseRows = phases.map((phase) => {
    const values = rounds.map((x) => (x.timings.phasesMs[phase] ?? 0) / 1000);
    return [phase, sec2(median(values)), range(values, sec2)];
  });
  const inside = rounds.map((x) => x.timings.totalMs / 1000);
  phaseRows.push(['all of the processing, as the CLI timed it (the wall time adds node\'s start-up and exit)', sec2(median(inside)), range(inside, sec2)]);
  const counts = rounds[0].timings.counts;
  const facts = [
    `- Input: ${made.snapshots} raw snapshots, ${(made.bytesWritten / 1e9).toFixed(2)} GB; ${made.stacks} stacks (mean depth ${made.meanDepth.toFixed(1)}, at most ${made.maxDepth}) over ${made.distinctPcs} distinct pcs in the objects of \`node\` as recorded under the shim (template ${made.template}); ${made.leaks} leaking stacks. Generated in ${generationSec.toFixed(1)} s (not counted).`,
    `- Output: ${(counts.profileBytes / 1e9).toFixed(2)} GB of pprof profiles before gzip, ${(counts.compressedBytes / 1e9).toFixed(2)} GB after; ${report.sites.length} sites; verdict ${report.verdict.kind}; report.json ${mib(statSync(join(dir, 'report.json')).size)}, report.html ${mib(statSync(join(dir, 'report.html')).size)}.`,
    '- Phases are time on the CLI\'s main thread; gzip runs on zlib\'s threads alongside (its cost shows as the wait for it, and as the other core being busy), so they do not add up to the wall time.',
  ];
  return [
    `### Analysis: \`leakhunt report\` processing a run of ${label} (bench/synthetic-run.mjs), ${analysisRounds} round${analysisRounds === 1 ? '' : 's'}`,
    '',
    summary,
    '',
    `**${sentence}** (wall time: \`leakhunt report DIR\` from start to exit; peak RSS: the CLI process's, llvm-symbolizer's not included)`,
    '',
    table(['phase', 'median', 'range'], phaseRows),
    '',
    ...facts,
  ].join('\n');
}

// ---- the machine ----

const loadAtStart = loadavg();

function machine(java) {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const glibc = firstLine('getconf', ['GNU_LIBC_VERSION']) ?? 'unknown';
  const jdk = java ? firstLine(java, ['-version']) ?? 'not found' : 'not used';
  const compiler = firstLine(cc, ['--version']) ?? cc;
  const libunwind = firstLine('dpkg-query', ['-W', '-f', '${Version}', 'libunwind-dev']);
  return [
    `- CPU: ${cpu}, ${nproc} cores available`,
    `- ${glibc}, kernel ${release()}, ${compiler}`,
    `- JDK: ${jdk}`,
    `- libunwind-dev: ${libunwind ?? 'not installed (or not a Debian system)'}`,
    `- node ${process.version}; date ${new Date().toISOString()}`,
    `- ${pinningNote()}`,
    `- load average (1/5/15 min) at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`
      + ' (other work on the machine shows here: the figures are only as quiet as it was)',
  ].join('\n');
}

// ---- issue #12's targets ----

/** The peer malloc-bench's "shim idle" added ns per pair, per thread count, in the RESULTS.md this run replaces
 * (or the one --baseline names). */
function previousIdleAddedNs() {
  try {
    const file = opts.baseline ?? join(benchDir, 'RESULTS.md');
    const section = readFileSync(file, 'utf8').split('### peer malloc-bench')[1]?.split('###')[0] ?? '';
    const out = {};
    for (const m of section.matchAll(/^\| (\d+) \| shim idle \(unsampled path\) \|.*\| ([+-][0-9.]+) \|$/gm)) out[m[1]] = Number(m[2]);
    return out;
  } catch {
    return {};
  }
}

// ---- main ----

async function main() {
  tmpRoot = mkdtempSync(join(tmpdir(), 'leakhunt-bench-'));
  const previousIdle = previousIdleAddedNs();
  const sections = [];
  let javaUsed;
  try {
    const { haveLibunwind } = build();
    sections.push(microbenchmark());
    sections.push(mmapMicrobenchmark());

    const peerSource = opts.peer === null ? undefined : opts.peer ?? resolve(repo, '..', 'shared', 'peer-bench');
    if (peerSource && existsSync(join(peerSource, 'build.sh'))) {
      const peer = preparePeer(peerSource);
      if (peer.mallocBench) sections.push(peerMallocBench(peer.mallocBench));
      if (opts.jvm && peer.jvm) {
        if (!existsSync(cli)) {
          say('building the CLI (tsc)');
          run(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.json')]);
        }
        javaUsed = process.env.JAVA || '/usr/lib/jvm/java-17-openjdk-amd64/bin/java';
        sections.push(await peerJvm(peer.dir));
      } else if (opts.jvm) {
        sections.push('### peer JVM workload: skipped (the peer build did not produce the Java classes)');
      }
    } else if (opts.peer !== null) {
      sections.push(`### peer workloads: skipped (no peer benchmark at ${relative(repo, peerSource) || peerSource})`);
    }

    sections.push(unwinding(haveLibunwind));
    if (opts.analysis) sections.push(await analysis());
    const summary = targetsSection(targets, previousIdle);
    if (summary) sections.unshift(summary);
  } finally {
    if (!opts.keep) rmSync(tmpRoot, { recursive: true, force: true });
    else say(`kept ${tmpRoot}`);
  }

  // Paths as the repository sees them: a results file names no directory of the machine it was made on.
  const args = process.argv.slice(2).map((a) => (isAbsolute(a) ? relative(repo, a) : a));
  const command = ['npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
  const text = [
    '# leakhunt benchmark results',
    '',
    `Generated by \`${command}\` (bench/run.mjs) in one sitting; every figure is a median of interleaved rounds.`
      + ' How to read them: bench/README.md.',
    '',
    machine(javaUsed),
    '',
    sections.join('\n\n'),
    '',
  ].join('\n');
  process.stdout.write(`${text}\n`);
  const target = opts.quick ? join(buildDir, 'RESULTS-quick.md') : join(benchDir, 'RESULTS.md');
  writeFileSync(target, text);
  say(`wrote ${relative(repo, target)}`);
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
