/**
 * SnapshotSeriesReader: a process's snapshots read one after another give what reading each on its own gives,
 * while consecutive snapshots of one process image share their stack table, and nothing goes wrong across an exec,
 * a damaged file, or site tables kept past the reader's next reads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSnapshotFile } from '../../src/snapshot/reader.js';
import { SnapshotSeriesReader } from '../../src/snapshot/stream.js';
import { StackTable } from '../../src/snapshot/tables.js';
import type { RawStack, SiteStats } from '../../src/snapshot/types.js';
import { encodeRawSnapshot } from './helpers/raw-file.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'leakhunt-stream-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function site(stackId: number, k: number): SiteStats {
  return {
    stackId, liveSamples: k % 3, liveSampledBytes: 100 * k, liveObjects: 1.5 * k, liveBytes: 65536.25 * (k % 3), allocSamples: k + stackId,
    allocObjects: 3.5 * k, allocBytes: 1e6 * k, oldestLiveMs: k % 3 ? 10 * k : 0, newestLiveMs: k % 3 ? 10 * k + 5 : 0, meanLiveMs: k % 3 ? 10 * k + 2.5 : 0,
  };
}

/** Snapshot files of one process: `images[k]` is the shim start of snapshot k (another value: another image). */
function writeSeries(name: string, tables: RawStack[][], images: bigint[], sitesOf = (stacks: RawStack[], k: number) => stacks.map((s) => site(s.id, k))): string[] {
  return tables.map((stacks, k) => {
    const path = join(dir, `${name}-${String(k).padStart(6, '0')}.lhs`);
    writeFileSync(path, encodeRawSnapshot(rawSnapshot({
      maps: '00400000-00401000 r-xp 00000000 fe:00 7 /usr/bin/app\n',
      stacks: new Map(stacks.map((s) => [s.id, s])),
      sites: sitesOf(stacks, k),
      meta: { pid: 4242, sequence: k, realtimeNs: BigInt(k) * 1_000_000_000n, monotonicNs: BigInt(k) * 1_000_000_000n + 7n, startMonotonicNs: images[k]! },
    })));
    return path;
  });
}

const stack = (id: number, ...pcs: number[]): RawStack => ({ id, pcs: pcs.map(BigInt), javaFrames: [] });

/** A table that grows: stacks 0..n, each new one appended. */
function growing(counts: number[]): RawStack[][] {
  return counts.map((n) => Array.from({ length: n }, (_, id) => (id === 0 ? stack(0) : stack(id, 0x400100 + id, 0x400200 + (id % 3), 0x400300))));
}

function assertSameAsAlone(read: ReturnType<SnapshotSeriesReader['read']>, path: string): void {
  const alone = readSnapshotFile(path);
  assert.deepEqual([...read.stacks.values()], [...alone.stacks.values()], `${path}: stacks`);
  assert.deepEqual(read.sites, alone.sites, `${path}: sites`);
  assert.deepEqual(read.meta, alone.meta);
  assert.equal(read.maps, alone.maps);
  for (const s of alone.sites) assert.deepEqual(read.stacks.get(s.stackId), alone.stacks.get(s.stackId));
}

describe('SnapshotSeriesReader', () => {
  test('a growing table: each snapshot as read alone, the stacks of the earlier ones shared, sites in stack order', () => {
    const paths = writeSeries('grow', growing([3, 3, 7, 20, 20]), [5n, 5n, 5n, 5n, 5n]);
    const reader = new SnapshotSeriesReader();
    const snapshots = paths.map((p) => reader.read(p));
    snapshots.forEach((s, k) => assertSameAsAlone(s, paths[k]!));
    const tables = snapshots.map((s) => s.stacks as StackTable);
    assert.ok(tables.every((t) => t instanceof StackTable && t.store === tables[0]!.store), 'one store for the image');
    assert.equal(tables[4]!.get(2), tables[0]!.get(2), 'stack 2 is the same object in every snapshot');
    assert.equal(tables[0]!.size, 3);
    assert.equal(tables[0]!.get(5), undefined, 'an earlier table does not see stacks added after it');
    assert.ok(snapshots.every((s) => s.siteTable?.inStackOrder === true));
  });

  test('after an exec (another shim start), the same ids are other stacks: read as its own', () => {
    const first = growing([4, 4])[0]!;
    const other = [stack(0), stack(1, 0x400999), stack(2, 0x400888, 0x400777), stack(3, 0x400666)];
    const paths = writeSeries('exec', [first, first, other, [...other, stack(4, 1)]], [5n, 5n, 9n, 9n]);
    const reader = new SnapshotSeriesReader();
    const snapshots = paths.map((p) => reader.read(p));
    snapshots.forEach((s, k) => assertSameAsAlone(s, paths[k]!));
    assert.deepEqual(snapshots[2]!.stacks.get(1)!.pcs, [0x400999n]);
    assert.notEqual((snapshots[2]!.stacks as StackTable).store, (snapshots[1]!.stacks as StackTable).store);
    assert.equal((snapshots[3]!.stacks as StackTable).store, (snapshots[2]!.stacks as StackTable).store);
  });

  test('a damaged snapshot is rejected as on its own; the next one reads whole', () => {
    const paths = writeSeries('damaged', growing([3, 5, 8, 9]), [5n, 5n, 5n, 5n]);
    writeFileSync(paths[2]!, encodeRawSnapshot(readSnapshotFile(paths[2]!)).subarray(0, 200));
    const reader = new SnapshotSeriesReader();
    reader.read(paths[0]!);
    reader.read(paths[1]!);
    assert.throws(() => reader.read(paths[2]!), /truncated|runs past/);
    assertSameAsAlone(reader.read(paths[3]!), paths[3]!);
  });

  test('sites out of stack order and sites of some stacks only: read as on their own', () => {
    const tables = growing([6, 6, 6]);
    const paths = writeSeries('order', tables, [5n, 5n, 5n], (stacks, k) => [...stacks].reverse().filter((s) => s.id !== 2).map((s) => site(s.id, k)));
    const reader = new SnapshotSeriesReader();
    for (const path of paths) {
      const s = reader.read(path);
      assertSameAsAlone(s, path);
      assert.equal(s.siteTable!.inStackOrder, false);
    }
  });

  test('site tables: copied out before the reader reuses their buffer unless released, unreadable once released', () => {
    const paths = writeSeries('lent', growing([3, 4, 5, 6]), [5n, 5n, 5n, 5n]);
    const reader = new SnapshotSeriesReader();
    const kept = reader.read(paths[0]!);
    const released = reader.read(paths[1]!);
    reader.release(released);
    reader.read(paths[2]!);
    reader.read(paths[3]!);
    assert.deepEqual(kept.sites, readSnapshotFile(paths[0]!).sites, 'the kept one still reads right');
    assert.equal(released.siteTable!.isReleased, true);
    assert.throws(() => released.siteTable!.liveBytes(0));
  });
});
