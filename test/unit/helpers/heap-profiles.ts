/** Heap profiles as a run writes them (buildHeapProfile, gzip), from a few stacks with live and dead sites. */
import { encodeProfileGz, buildHeapProfile } from '../../../src/pprof/build.js';
import type { SiteStats } from '../../../src/snapshot/types.js';
import { parseMaps } from '../../../src/symbolize/maps.js';
import type { SymbolizedLocation } from '../../../src/symbolize/types.js';
import { rawSnapshot } from './raw-snapshot.js';

const maps = [
  '55e18b8cf000-55e18b8d4000 r-xp 00002000 fe:00 11 /usr/bin/app',
  '7f0000001000-7f0000002000 r-xp 00001000 fe:00 12 /usr/lib/libleak.so',
].join('\n');
const [app, lib] = parseMaps(maps);

const frames: Record<string, SymbolizedLocation> = {};
function location(pc: bigint, name: string, file: string, line: number): [bigint, SymbolizedLocation] {
  const mapping = pc >= 0x7f0000001000n ? lib! : app!;
  frames[name] = { pc, mapping, objectAddress: pc - 1n, symbolized: true, buildId: 'ab12', frames: [{ functionName: name, fileName: file, line }] };
  return [pc, frames[name]!];
}

const locations = new Map<bigint, SymbolizedLocation>([
  location(0x7f0000001101n, 'malloc', '/src/malloc.c', 10),
  location(0x55e18b8cf101n, 'leak_via_malloc', '/src/leaky.c', 20),
  location(0x55e18b8cf201n, 'churn', '/src/leaky.c', 30),
  location(0x55e18b8cf301n, 'main', '/src/leaky.c', 40),
]);

const stacks = new Map([
  [0, { id: 0, pcs: [], javaFrames: [] }],
  [1, { id: 1, pcs: [0x7f0000001101n, 0x55e18b8cf101n, 0x55e18b8cf301n], javaFrames: [] }],
  [2, { id: 2, pcs: [0x7f0000001101n, 0x55e18b8cf201n, 0x55e18b8cf301n], javaFrames: [] }],
  [3, { id: 3, pcs: [0x7f0000001101n, 0x55e18b8cf301n], javaFrames: [] }],
]);

export function site(stackId: number, liveBytes: number, allocBytes: number): SiteStats {
  const live = liveBytes > 0;
  return {
    stackId, liveSamples: live ? 1 : 0, liveSampledBytes: liveBytes, liveObjects: live ? liveBytes / 100 : 0, liveBytes,
    allocSamples: 2, allocObjects: allocBytes / 100, allocBytes, oldestLiveMs: live ? 1 : 0, newestLiveMs: live ? 2 : 0, meanLiveMs: live ? 1.5 : 0,
  };
}

/** One snapshot's profile file bytes: `sequence` at `timeNanos`, `live` bytes in use for stacks 1..3 (0 = none live). */
export function heapProfileGz(options: { sequence?: number; timeNanos?: bigint; durationNanos?: bigint; live?: [number, number, number] } = {}): Buffer {
  const timeNanos = options.timeNanos ?? BigInt(Date.now()) * 1_000_000n;
  const [a, b, c] = options.live ?? [10007 * 3, 0, 4099];
  const raw = rawSnapshot({
    meta: { pid: 4242, sequence: options.sequence ?? 1, realtimeNs: timeNanos, startRealtimeNs: timeNanos - 5_000_000_000n, sampleIntervalBytes: 4096 },
    maps, stacks, sites: [site(1, a, a * 2 + 1), site(2, b, 65536), site(3, c, c), site(0, 0, 12)],
  });
  return encodeProfileGz(buildHeapProfile({ raw, mappings: parseMaps(maps), locations, warnings: [] }, {
    timeNanos, durationNanos: options.durationNanos ?? 250_000_000n,
  }));
}
