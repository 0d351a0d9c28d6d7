#!/usr/bin/env node
// A synthetic run directory, as `leakhunt run` leaves it just before processing: run.json (complete, as written
// when the target ended) and raw/<pid>/NNNNNN.lhs in the shim's own format (native/FORMAT.md, version 3, 104-byte
// site entries with first_seen_bytes), but no
// snapshots/, timeline.json or report.json. For timing the processing of a large run (bench/run.mjs, "analysis").
//
// Realism, where it costs time:
//   - The pcs are return addresses into REAL objects of this machine, so symbolizing them is real work: the maps
//     and the stacks of a template — a raw snapshot of a real program recorded under the shim (by default `node`
//     doing some zlib, crypto and JSON work, at --sample-bytes 4096; see captureTemplate). Every synthetic stack
//     keeps the outer frames of one of the template's real stacks (so _start, __libc_start_main, start_thread,
//     clone3 are real) and continues inward through a random call tree (a Chinese-restaurant process per node, so
//     stacks share prefixes the way real ones do) whose pcs come from the template's real pcs plus random
//     addresses inside the executable segments of the same objects (mostly the program's own text): a few
//     thousand distinct pcs for 50 000 stacks, depth 10–30 (a few deeper).
//   - The stack table is append-only and written whole in every snapshot, as the shim does; most stacks exist
//     from the first snapshot, the rest are found later (more of them early).
//   - Live bytes per stack: most stacks churn (a Poisson number of live sampled blocks per snapshot, mostly
//     zero), some hold what they allocated at start-up, some fill like a cache, some go away, a few leak (their
//     live samples only ever grow). Sizes, weights and upscaled bytes follow the shim's Poisson sampling.
//   - Everything is drawn from a seeded PRNG: the same template, sizes and seed give the same files.
//
// usage: node bench/synthetic-run.mjs --out DIR [--snapshots 360] [--stacks 50000] [--seed 1]
//                                     [--interval-ms 10000] [--sample-bytes 65536] [--template FILE.lhs]
// Without --template, one is captured first (needs `npm run build`: the shim and dist/).
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writevSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cli = join(repo, 'dist', 'src', 'cli.js');

/** Bumped whenever the output for the same inputs changes (bench/run.mjs keys its cached run on it). */
export const GENERATOR_VERSION = 1;

// ---- deterministic randomness ----

/** sfc32: small, fast, good enough for workloads; seeded through splitmix32. */
function prng(seed) {
  let s = seed >>> 0;
  const next32 = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = next32();
  let b = next32();
  let c = next32();
  let d = next32();
  const random = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = random() || 1e-12;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const poisson = (lambda) => {
    if (lambda <= 0) return 0;
    if (lambda > 40) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = random();
    while (p > limit) {
      k++;
      p *= random();
    }
    return k;
  };
  return { random, normal, poisson, int: (n) => Math.floor(random() * n) };
}

// ---- the template: a real snapshot of a real program ----

/**
 * Records `node` doing a little zlib, crypto and JSON work under the shim (every 4 KiB sampled, so a few hundred
 * real stacks) and copies its last raw snapshot to `outFile`.
 */
export function captureTemplate(outFile) {
  const work = join(mkdtempSync(join(tmpdir(), 'leakhunt-template-')), 'run');
  try {
    const script = "const z=require('zlib'),c=require('crypto');const keep=[];for(let i=0;i<300;i++){"
      + "keep.push(z.gzipSync(Buffer.alloc(20000+i*97,i)));c.createHash('sha256').update(String(i)).digest();"
      + 'JSON.parse(JSON.stringify({a:[i,i+1]}));}new URL("http://x/"+keep.length);';
    const r = spawnSync(process.execPath, [cli, 'run', '-q', '--sample-bytes', '4096', '--out', work, '--', process.execPath, '-e', script],
      { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`capturing the template failed (${r.status ?? r.signal}): ${(r.stderr || '').trim().slice(-500)}`);
    const rawDir = join(work, 'raw');
    const pidDir = join(rawDir, readdirSync(rawDir)[0]);
    const last = readdirSync(pidDir).filter((f) => f.endsWith('.lhs')).sort().pop();
    if (!last) throw new Error('capturing the template failed: the program wrote no snapshot');
    mkdirSync(resolve(outFile, '..'), { recursive: true });
    copyFileSync(join(pidDir, last), outFile);
    return outFile;
  } finally {
    rmSync(resolve(work, '..'), { recursive: true, force: true });
  }
}

async function readTemplate(file) {
  const { readSnapshotFile } = await import(pathToFileURL(join(repo, 'dist', 'src', 'snapshot', 'index.js')).href);
  const { parseMaps, findMapping } = await import(pathToFileURL(join(repo, 'dist', 'src', 'symbolize', 'maps.js')).href);
  const snapshot = readSnapshotFile(file);
  const mappings = parseMaps(snapshot.maps);
  const stacks = [...snapshot.stacks.values()].filter((s) => s.pcs.length >= 4).map((s) => s.pcs);
  if (stacks.length < 10) throw new Error(`${file}: too few stacks (${stacks.length}) for a template`);
  // Executable, file-backed, and not the shim itself (its frames never appear in stacks).
  const code = mappings.filter((m) => m.perms.includes('x') && m.path.startsWith('/') && m.inode !== 0 && !/libleakhunt\.so$/.test(m.path));
  return { maps: snapshot.maps, stacks, code, objectOf: (pc) => findMapping(mappings, pc - 1n)?.path ?? '' };
}

// ---- stacks ----

/**
 * `count` distinct stacks (innermost first, as the shim writes them): the outer frames of a real stack, then a
 * walk inward through a shared random call tree.
 */
function makeStacks(template, count, rng) {
  const executable = template.code[0]?.path;
  // The pool of pcs new call-tree nodes draw from: the template's real pcs, and random addresses in the objects'
  // code (the program's own text most often, as in a real service), 2 000 of them plus the real ones.
  const realPcs = [...new Set(template.stacks.flat())];
  const synthetic = [];
  const weightOf = (m) => (m.path === executable ? 20 : /libc\.so|libstdc\+\+/.test(m.path) ? 3 : 1) * Number(m.endAddress - m.startAddress);
  const weights = template.code.map(weightOf);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const seen = new Set(realPcs);
  while (synthetic.length < 2000) {
    let x = rng.random() * totalWeight;
    let i = 0;
    while (x >= weights[i] && i < weights.length - 1) x -= weights[i++];
    const m = template.code[i];
    const pc = m.startAddress + 1n + BigInt(Math.floor(rng.random() * (Number(m.endAddress - m.startAddress) - 1)));
    if (seen.has(pc)) continue;
    seen.add(pc);
    synthetic.push(pc);
  }
  const pool = [...realPcs, ...synthetic];
  // Zipf-like preference: low pool indices (a random order of the pool) are called from many places.
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const pickPool = () => pool[Math.min(pool.length - 1, Math.floor(pool.length * rng.random() ** 2.2))];
  // Allocation entry points: the innermost frames of the template's stacks that are in the C++ runtime
  // (operator new and friends), placed innermost in a third of the stacks.
  const runtimeLeaves = [...new Set(template.stacks.map((s) => s[0]).filter((pc) => /libstdc\+\+/.test(template.objectOf(pc))))];

  // The call tree: node → children (pc → child node) with use counts; new child with probability α/(n+α).
  const root = { children: new Map(), uses: 0 };
  const alpha = 1.2;
  const child = (node, pc) => {
    let next = node.children.get(pc);
    if (!next) {
      next = { pc, children: new Map(), uses: 0 };
      node.children.set(pc, next);
    }
    return next;
  };
  const keys = new Set();
  const stacks = [];
  let attempts = 0;
  while (stacks.length < count) {
    if (++attempts > count * 50) throw new Error(`could not make ${count} distinct stacks (made ${stacks.length})`);
    const real = template.stacks[rng.int(template.stacks.length)];
    const outer = Math.min(real.length - 1, 2 + rng.int(Math.min(10, real.length - 2)));
    // Depth 10–30 mostly (triangular around 19), a few deeper.
    const depth = rng.random() < 0.03 ? 31 + rng.int(30) : 10 + Math.round((rng.random() + rng.random()) * 10);
    const frames = []; // outermost first
    let node = root;
    for (let k = 0; k < outer; k++) {
      const pc = real[real.length - 1 - k];
      frames.push(pc);
      node = child(node, pc);
    }
    while (frames.length < depth) {
      node.uses++;
      let next;
      if (node.children.size === 0 || rng.random() < alpha / (node.uses + alpha)) {
        next = child(node, pickPool());
      } else {
        // An existing callee, in proportion to how often it was taken.
        let x = rng.random() * [...node.children.values()].reduce((a, c) => a + c.uses + 1, 0);
        for (const c of node.children.values()) {
          x -= c.uses + 1;
          if (x <= 0) { next = c; break; }
        }
        next ??= [...node.children.values()].pop();
      }
      frames.push(next.pc);
      node = next;
    }
    if (runtimeLeaves.length > 0 && rng.random() < 0.33) frames.push(runtimeLeaves[rng.int(runtimeLeaves.length)]);
    const pcs = frames.reverse();
    const key = pcs.join(',');
    if (keys.has(key)) continue;
    keys.add(key);
    stacks.push(pcs);
  }
  return stacks;
}

// ---- live bytes over time ----

const KIND = { churn: 0, leak: 1, startup: 2, cache: 3, gone: 4 };

function makeBehaviour(stackCount, snapshots, sampleBytes, rng) {
  const n = stackCount + 1; // + the overflow stack, id 0
  const b = {
    found: new Int32Array(n), kind: new Uint8Array(n), size: new Float64Array(n), weight: new Float64Array(n),
    lambda: new Float64Array(n), allocRate: new Float64Array(n), until: new Int32Array(n), level: new Float64Array(n),
  };
  for (let id = 1; id < n; id++) {
    // 55% of the stacks from the first snapshot, the rest found later, more of them early.
    b.found[id] = rng.random() < 0.55 ? 0 : Math.min(snapshots - 1, Math.floor(snapshots * rng.random() ** 2.5));
    const size = Math.min(4 << 20, Math.max(8, Math.round(200 * Math.exp(1.6 * rng.normal()))));
    b.size[id] = size;
    b.weight[id] = sampleBytes <= 1 ? 1 : 1 / (1 - Math.exp(-size / sampleBytes));
    b.lambda[id] = 0.02 * Math.exp(1.7 * rng.normal());
    b.allocRate[id] = b.lambda[id] * (0.5 + 3 * rng.random()) + 0.01;
    const u = rng.random();
    b.kind[id] = u < 0.001 ? KIND.leak : u < 0.031 ? KIND.startup : u < 0.041 ? KIND.cache : u < 0.051 ? KIND.gone : KIND.churn;
    if (b.kind[id] === KIND.leak) b.lambda[id] = 0.02 + 0.3 * rng.random(); // new live samples per snapshot
    if (b.kind[id] === KIND.startup) b.level[id] = 1 + rng.poisson(3 * (1 + b.lambda[id] * 20));
    if (b.kind[id] === KIND.cache) { b.level[id] = 5 + rng.int(40); b.until[id] = 10 + rng.int(Math.max(1, snapshots >> 2)); }
    if (b.kind[id] === KIND.gone) b.until[id] = b.found[id] + 1 + rng.int(Math.max(1, snapshots - b.found[id]));
  }
  return b;
}

// ---- the on-disk format (native/FORMAT.md) ----

const RECORD = { meta: 1, counters: 2, mallinfo: 3, processMemory: 4, maps: 5, stacks: 6, sites: 7, end: 0xffff };
/** A SITES entry: 13 words, the last first_seen_bytes. */
const ENTRY_WORDS = 13;
const ENTRY_BYTES = 8 * ENTRY_WORDS;

function recordHeader(type, bytes) {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(bytes, 4);
  return h;
}

function u64s(values) {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(Math.max(0, Math.round(v))), 8 * i));
  return b;
}

function encodeStacks(stacks) {
  // Stack 0, the overflow stack, has no frames.
  const sizes = [8, ...stacks.map((pcs) => 8 + 8 * pcs.length)];
  const buffer = Buffer.alloc(sizes.reduce((a, b) => a + b, 0));
  const ends = new Array(sizes.length);
  let at = 0;
  sizes.forEach((size, id) => {
    buffer.writeUInt32LE(id, at);
    const pcs = id === 0 ? [] : stacks[id - 1];
    buffer.writeUInt16LE(pcs.length, at + 4);
    buffer.writeUInt16LE(0, at + 6);
    pcs.forEach((pc, k) => buffer.writeBigUInt64LE(pc, at + 8 + 8 * k));
    at += size;
    ends[id] = at;
  });
  return { buffer, ends };
}

/**
 * Writes the run directory; returns what it made. `template`: a raw snapshot file of a real program; `dir` must
 * not exist or be empty.
 */
export async function generateSyntheticRun({
  dir, template, snapshots = 360, stacks: stackCount = 50_000, seed = 1, intervalMs = 10_000, sampleBytes = 65_536,
}) {
  if (endianness() !== 'LE') throw new Error('the raw format is little-endian; this generator writes it with native-order arrays');
  const rng = prng(seed);
  const tpl = await readTemplate(template);
  const stacks = makeStacks(tpl, stackCount, rng);
  // Stack ids in the order the stacks were found, as the shim's table grows.
  const behaviour = makeBehaviour(stackCount, snapshots, sampleBytes, rng);
  const order = Array.from({ length: stackCount }, (_, i) => i + 1).sort((x, y) => behaviour.found[x] - behaviour.found[y] || x - y);
  const byId = [0, ...order];
  const remap = (array) => {
    const out = new array.constructor(array.length);
    byId.forEach((oldId, newId) => { out[newId] = array[oldId]; });
    return out;
  };
  for (const key of Object.keys(behaviour)) behaviour[key] = remap(behaviour[key]);
  const orderedStacks = order.map((oldId) => stacks[oldId - 1]);
  const { buffer: stackBytes, ends: stackEnds } = encodeStacks(orderedStacks);

  const pid = 424242;
  const startedAtMs = Date.UTC(2025, 0, 6, 9, 0, 0);
  const startRealtimeNs = BigInt(startedAtMs + 35) * 1_000_000n;
  const startMonotonicNs = 86_400_000_000_000n;
  const rawDir = join(dir, 'raw', String(pid));
  mkdirSync(rawDir, { recursive: true, mode: 0o700 });
  const maps = Buffer.from(tpl.maps, 'utf8');

  const n = stackCount + 1;
  const live = new Float64Array(n); // live sampled blocks now
  const allocSamples = new Float64Array(n);
  const firstLiveMs = new Float64Array(n); // when the oldest live block of a growing kind was allocated
  const firstSeen = new Float64Array(n); // cumulative upscaled bytes first seen live (first_seen_bytes)
  const sites = new ArrayBuffer(ENTRY_BYTES * n);
  const f64 = new Float64Array(sites);
  const u32 = new Uint32Array(sites);
  let totalSamples = 0;
  let totalFrees = 0;
  let bytesWritten = 0;
  for (let k = 0; k < snapshots; k++) {
    const nowMs = 2000 + k * intervalMs + rng.int(40); // ms since the shim started
    let known = 1;
    while (known < n && behaviour.found[known] <= k) known++;
    let liveEntries = 0;
    let liveBytes = 0;
    let liveSampledBytes = 0;
    for (let id = 1; id < known; id++) {
      const kind = behaviour.kind[id];
      const before = live[id];
      let now;
      if (kind === KIND.leak) now = before + rng.poisson(behaviour.lambda[id]);
      else if (kind === KIND.startup) now = behaviour.level[id];
      else if (kind === KIND.cache) now = Math.round(behaviour.level[id] * (1 - Math.exp(-(k - behaviour.found[id] + 1) / behaviour.until[id]))) + rng.poisson(0.5);
      else if (kind === KIND.gone && k >= behaviour.until[id]) now = 0;
      else now = rng.poisson(behaviour.lambda[id]);
      if (k === behaviour.found[id] && now === 0 && allocSamples[id] === 0) allocSamples[id] = 1; // it was sampled once to be found
      const born = Math.max(0, now - before);
      totalFrees += Math.max(0, before - now) + (kind === KIND.churn || kind === KIND.gone ? Math.min(before, now) : 0);
      const fresh = kind === KIND.churn || kind === KIND.gone ? now : born;
      const extra = rng.poisson(behaviour.allocRate[id]);
      allocSamples[id] += fresh + extra;
      totalSamples += fresh + extra;
      if (before === 0 && now > 0) firstLiveMs[id] = nowMs - rng.int(intervalMs);
      if (now === 0) firstLiveMs[id] = 0;
      live[id] = now;
      const w = behaviour.weight[id];
      const size = behaviour.size[id];
      firstSeen[id] += fresh * w * size;
      const e = ENTRY_WORDS * id; // f64 index of the entry
      u32[2 * e] = id;
      u32[2 * e + 1] = 0;
      const setU64 = (slot, value) => { u32[2 * (e + slot)] = value % 4294967296; u32[2 * (e + slot) + 1] = Math.floor(value / 4294967296); };
      setU64(1, now);
      setU64(2, now * size);
      f64[e + 3] = now * w;
      f64[e + 4] = now * w * size;
      setU64(5, allocSamples[id]);
      f64[e + 6] = allocSamples[id] * w;
      f64[e + 7] = allocSamples[id] * w * size;
      if (now > 0) {
        // Churn's live blocks are young; what is held (leaks, caches, start-up data) is as old as its first block.
        const young = kind === KIND.churn || kind === KIND.gone;
        const oldest = young ? nowMs - rng.int(2 * intervalMs) : firstLiveMs[id];
        const newest = young ? Math.max(oldest, nowMs - rng.int(intervalMs >> 2)) : Math.max(oldest, nowMs - rng.int(3 * intervalMs));
        setU64(8, Math.max(0, oldest));
        setU64(9, Math.max(0, newest));
        f64[e + 10] = Math.max(0, (oldest + newest) / 2);
      } else {
        setU64(8, 0);
        setU64(9, 0);
        f64[e + 10] = 0;
      }
      f64[e + 11] = now * w * size; // usable: as requested, here
      f64[e + 12] = firstSeen[id];
      liveEntries += now;
      liveBytes += now * w * size;
      liveSampledBytes += now * size;
    }
    // Stack 0: the overflow stack, never used here.
    f64.fill(0, 0, ENTRY_WORDS);

    const realtimeNs = startRealtimeNs + BigInt(nowMs) * 1_000_000n;
    const meta = Buffer.alloc(96);
    meta.writeBigUInt64LE(BigInt(pid), 0);
    meta.writeBigUInt64LE(BigInt(k), 8);
    meta.writeBigInt64LE(realtimeNs, 16);
    meta.writeBigInt64LE(startMonotonicNs + BigInt(nowMs) * 1_000_000n, 24);
    meta.writeBigInt64LE(startRealtimeNs, 32);
    meta.writeBigInt64LE(startMonotonicNs, 40);
    meta.writeBigUInt64LE(BigInt(sampleBytes), 48);
    meta.writeBigUInt64LE(BigInt(sampleBytes), 56);
    meta.writeUInt32LE(k === snapshots - 1 ? 1 : 0, 64);
    meta.writeUInt32LE(64, 68);
    const counters = u64s([
      totalSamples, totalFrees, liveEntries, 1 << 20, 0, 0, 0, known, 1 << 16, 0, 0, 48 << 20, k + 1, 0, 0, 0, 30 << 20, 0, 0, 0,
    ]);
    const heap = liveBytes * 1.08 + (24 << 20);
    const inUse = liveBytes + (20 << 20);
    const mallinfo = u64s([1, heap * 0.8, 4000 + liveEntries, 40, 12, heap * 0.2, 0, 0, inUse - heap * 0.2, heap - inUse, 128 << 10]);
    const rss = 90 * 2 ** 20 + heap + (stackCount * 200) + rng.int(4 << 20);
    const memory = u64s([rss * 3.2, rss, rss - (38 << 20), 38 << 20, 0, rss + (2 << 20)]);
    const stacksPayload = stackBytes.subarray(0, stackEnds[known - 1]);
    const stacksCount = Buffer.alloc(4);
    stacksCount.writeUInt32LE(known);
    const sitesHead = Buffer.alloc(8);
    sitesHead.writeUInt32LE(known, 0);
    sitesHead.writeUInt32LE(ENTRY_BYTES, 4);
    const header = Buffer.alloc(16);
    header.write('LKHUNT\r\n', 0, 'latin1');
    header.writeUInt32LE(3, 8);
    header.writeUInt32LE(16, 12);
    const parts = [
      header, recordHeader(RECORD.meta, 96), meta, recordHeader(RECORD.counters, 160), counters,
      recordHeader(RECORD.mallinfo, 88), mallinfo, recordHeader(RECORD.processMemory, 48), memory,
      recordHeader(RECORD.maps, maps.length), maps,
      recordHeader(RECORD.stacks, 4 + stacksPayload.length), stacksCount, stacksPayload,
      recordHeader(RECORD.sites, 8 + ENTRY_BYTES * known), sitesHead, Buffer.from(sites, 0, ENTRY_BYTES * known),
      recordHeader(RECORD.end, 0),
    ];
    const name = join(rawDir, `${String(k).padStart(6, '0')}.lhs`);
    const fd = openSync(name, 'w', 0o600);
    try {
      for (let i = 0; i < parts.length; i += 512) bytesWritten += writevSync(fd, parts.slice(i, i + 512));
    } finally {
      closeSync(fd);
    }
  }

  const endedAtMs = startedAtMs + 2000 + snapshots * intervalMs;
  const rss = [];
  for (let t = 1000; t < endedAtMs - startedAtMs; t += 1000) rss.push({ timeMs: t, rssBytes: 100 * 2 ** 20 + Math.round(t * 3) });
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify({
    schema: 'leakhunt.run/v1', command: ['/usr/bin/node', 'service.js'], startedAtMs, sampleBytes, snapshotIntervalMs: intervalMs,
    endedAtMs, pid, exitStatus: 0, stoppedAfterDuration: false, rss,
  }, null, 2)}\n`, { mode: 0o600 });
  const distinctPcs = new Set(orderedStacks.flat()).size;
  const depths = orderedStacks.map((s) => s.length);
  return {
    dir, snapshots, stacks: stackCount, distinctPcs, bytesWritten,
    meanDepth: depths.reduce((a, b) => a + b, 0) / depths.length, maxDepth: Math.max(...depths),
    leaks: behaviour.kind.filter((k) => k === KIND.leak).length, template: basename(template),
  };
}

// ---- command line ----

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
  };
  const out = value('--out');
  if (!out || args.includes('--help')) {
    console.error('usage: node bench/synthetic-run.mjs --out DIR [--snapshots 360] [--stacks 50000] [--seed 1] [--interval-ms 10000] [--sample-bytes 65536] [--template FILE.lhs]');
    process.exit(out ? 0 : 2);
  }
  if (existsSync(out) && readdirSync(out).length > 0) {
    console.error(`synthetic-run: ${out} exists and is not empty`);
    process.exit(5);
  }
  const template = value('--template') ?? captureTemplate(join(repo, 'bench', 'build', 'analysis-template.lhs'));
  const started = Date.now();
  const made = await generateSyntheticRun({
    dir: resolve(out), template, snapshots: Number(value('--snapshots', 360)), stacks: Number(value('--stacks', 50_000)),
    seed: Number(value('--seed', 1)), intervalMs: Number(value('--interval-ms', 10_000)), sampleBytes: Number(value('--sample-bytes', 65_536)),
  });
  console.error(`synthetic-run: ${JSON.stringify(made)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
