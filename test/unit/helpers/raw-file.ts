/**
 * Raw snapshot files (native/FORMAT.md, version 2) for tests, written from a RawSnapshot, in the order the shim
 * writes its records: META, COUNTERS, MALLINFO, PROCESS_MEMORY, MAPS, STACKS, SITES, END.
 */
import { writeSiteEntry } from '../../../src/snapshot/tables.js';
import type { RawSnapshot } from '../../../src/snapshot/types.js';

function record(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

function u64s(values: readonly (number | bigint)[]): Buffer {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 * i));
  return b;
}

export function encodeRawSnapshot(s: RawSnapshot): Buffer {
  const m = s.meta;
  const meta = Buffer.alloc(96);
  meta.writeBigUInt64LE(BigInt(m.pid), 0);
  meta.writeBigUInt64LE(BigInt(m.sequence), 8);
  meta.writeBigInt64LE(m.realtimeNs, 16);
  meta.writeBigInt64LE(m.monotonicNs, 24);
  meta.writeBigInt64LE(m.startRealtimeNs, 32);
  meta.writeBigInt64LE(m.startMonotonicNs, 40);
  meta.writeBigUInt64LE(BigInt(m.baseSampleIntervalBytes), 48);
  meta.writeBigUInt64LE(BigInt(m.sampleIntervalBytes), 56);
  meta.writeUInt32LE(m.isFinal ? 1 : 0, 64);
  meta.writeUInt32LE(m.maxStackDepth, 68);
  meta.writeBigUInt64LE(BigInt((m.recordsEveryAllocation ? 1 : 0) | (m.afterTrim ? 2 : 0) | (m.agentLoaded ? 4 : 0) | (m.agentSampling ? 8 : 0)), 72);
  const c = s.counters;
  const counters = u64s([
    c.samples, c.sampledFrees, c.liveEntries, c.tableCapacity, c.tableDrops, c.thinnedEntries, c.thinningRounds, c.stackCount,
    c.stackCapacity, c.stackDrops, c.missedFrees, c.shimMappedBytes, c.snapshotsWritten, c.writeErrors, c.javaStacks,
    c.javaStackFailures, c.shimResidentBytes, c.javaMethods, 0, 0,
  ]);
  const mi = s.mallinfo;
  const mallinfo = u64s([mi.available ? 1 : 0, mi.arena, mi.ordblks, mi.smblks, mi.hblks, mi.hblkhd, mi.usmblks, mi.fsmblks, mi.uordblks, mi.fordblks, mi.keepcost]);
  const me = s.memory;
  const memory = u64s([me.vmSizeBytes, me.vmRssBytes, me.rssAnonBytes, me.rssFileBytes, me.rssShmemBytes, me.vmHwmBytes]);
  const stacks = [...s.stacks.values()];
  const stackParts = stacks.map((stack) => {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(stack.id, 0);
    head.writeUInt16LE(stack.pcs.length, 4);
    head.writeUInt16LE(stack.javaFrames.length, 6);
    const java = stack.javaFrames.map((f) => {
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(f.methodId, 0);
      b.writeInt32LE(f.bci, 8);
      return b;
    });
    return Buffer.concat([head, u64s(stack.pcs), ...java]);
  });
  const count = Buffer.alloc(4);
  count.writeUInt32LE(stacks.length);
  const sites = Buffer.alloc(8 + 96 * s.sites.length);
  sites.writeUInt32LE(s.sites.length, 0);
  sites.writeUInt32LE(96, 4);
  s.sites.forEach((site, i) => writeSiteEntry(sites, 8 + 96 * i, site));
  const header = Buffer.alloc(16);
  header.write('LKHUNT\r\n', 0, 'latin1');
  header.writeUInt32LE(2, 8);
  header.writeUInt32LE(16, 12);
  return Buffer.concat([
    header, record(1, meta), record(2, counters), record(3, mallinfo), record(4, memory), record(5, Buffer.from(s.maps, 'utf8')),
    record(6, Buffer.concat([count, ...stackParts])), record(7, sites), record(0xffff, Buffer.alloc(0)),
  ]);
}
