/**
 * End to end through real objects: a C library with an inlined function and a C++ program, compiled here, run to
 * capture real return addresses and their /proc/self/maps, then symbolized with each backend.
 */
import { rawSnapshot } from './helpers/raw-snapshot.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawSnapshot, RawStack } from '../../src/snapshot/types.js';
import { SymbolizeSession, symbolizeSnapshot, type SymbolizedLocation } from '../../src/symbolize/index.js';
import { Symbolizer } from '../../src/symbolize/symbolizer.js';
import { findLlvmSymbolizer, findOnPath } from '../../src/symbolize/tools.js';

const dataDirectory = fileURLToPath(new URL('../../../test/unit/data/', import.meta.url));
const librarySource = join(dataDirectory, 'symbolize_lib.c');
const programSource = join(dataDirectory, 'symbolize_main.cpp');
const hasLlvm = findLlvmSymbolizer() !== undefined;
const hasAddr2line = findOnPath('addr2line') !== undefined;

interface ProgramRun {
  executable: string;
  /** [pc captured in the library (inside the inlined helper), pc captured in leak::Pool::grow]. */
  pcs: [bigint, bigint];
  bases: [bigint, bigint];
  maps: string;
}

let directory = '';
let pie: ProgramRun;
let noPie: ProgramRun;

function run(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8' });
}

function markLine(source: string, mark: string): number {
  const index = readFileSync(source, 'utf8').split('\n').findIndex((line) => line.includes(`MARK:${mark}`));
  assert.ok(index >= 0, mark);
  return index + 1;
}

/** [start, end) of a symbol according to `nm -S`. */
function nmRange(path: string, symbol: string): [bigint, bigint] {
  const line = run('nm', ['-S', path]).split('\n').find((l) => l.endsWith(` ${symbol}`));
  assert.ok(line, symbol);
  const [start, size] = line.split(' ');
  return [BigInt(`0x${start}`), BigInt(`0x${start}`) + BigInt(`0x${size}`)];
}

function runProgram(executable: string): ProgramRun {
  const output = run(executable, []);
  const [head, maps] = output.split('\nmaps\n');
  const rows = head!.split('\n').map((line) => /^pc (0x[0-9a-f]+) base (0x[0-9a-f]+)$/.exec(line)!);
  assert.equal(rows.length, 2);
  return { executable, pcs: [BigInt(rows[0]![1]!), BigInt(rows[1]![1]!)], bases: [BigInt(rows[0]![2]!), BigInt(rows[1]![2]!)], maps: maps! };
}

function fakeSnapshot(maps: string, stacks: RawStack[]): RawSnapshot {
  return rawSnapshot({ maps, stacks: new Map(stacks.map((stack) => [stack.id, stack])) });
}

function snapshotOf(program: ProgramRun): RawSnapshot {
  return fakeSnapshot(program.maps, [{ id: 1, pcs: [...program.pcs], javaFrames: [{ methodId: 1n, bci: 0 }] }]);
}

before(() => {
  // A space in the directory exercises paths with spaces through maps parsing and the symbolizer protocol.
  directory = mkdtempSync(join(tmpdir(), 'leakhunt sym-'));
  run('cc', ['-O2', '-g', '-shared', '-fPIC', '-o', join(directory, 'libsymtest.so'), librarySource]);
  const link = ['-L', directory, '-lsymtest', `-Wl,-rpath,${directory}`, '-ldl'];
  run('g++', ['-O2', '-g', '-o', join(directory, 'main-pie'), programSource, ...link]);
  run('g++', ['-O2', '-g', '-no-pie', '-fno-pie', '-o', join(directory, 'main-nopie'), programSource, ...link]);
  pie = runProgram(join(directory, 'main-pie'));
  noPie = runProgram(join(directory, 'main-nopie'));
});

after(() => rmSync(directory, { recursive: true, force: true }));

function assertSymbolized(locations: Map<bigint, SymbolizedLocation>, program: ProgramRun, withColumns: boolean): void {
  const [libraryPc, programPc] = program.pcs;
  const library = locations.get(libraryPc)!;
  assert.ok(library.symbolized);
  assert.equal(library.mapping?.path, join(directory, 'libsymtest.so'));
  // gcc links shared objects at 0, so dladdr's base is the load bias.
  assert.equal(library.objectAddress, libraryPc - 1n - program.bases[0]);
  const [leakStart, leakEnd] = nmRange(join(directory, 'libsymtest.so'), 'lib_leak');
  assert.ok(library.objectAddress! >= leakStart && library.objectAddress! < leakEnd);
  assert.equal(library.buildId, /Build ID: ([0-9a-f]+)/.exec(run('readelf', ['-n', join(directory, 'libsymtest.so')]))?.[1]);
  assert.deepEqual(
    library.frames.map((f) => [f.functionName, f.fileName, f.line]),
    [
      ['inlined_helper', librarySource, markLine(librarySource, 'inlined_helper')],
      ['lib_leak', librarySource, markLine(librarySource, 'lib_leak')],
    ],
  );
  assert.equal(library.frames.every((f) => f.column !== undefined), withColumns);

  const programLocation = locations.get(programPc)!;
  assert.ok(programLocation.symbolized);
  assert.deepEqual(
    programLocation.frames.map((f) => [f.functionName, f.fileName, f.line]),
    [['leak::Pool::grow(unsigned long)', programSource, markLine(programSource, 'Pool::grow')]],
  );
}

test('llvm-symbolizer: demangled names, inline frames, file:line:column (PIE)', { skip: !hasLlvm }, async () => {
  const symbolized = await symbolizeSnapshot(snapshotOf(pie), { backend: 'llvm-symbolizer' });
  assert.deepEqual(symbolized.warnings, []);
  assert.equal(symbolized.locations.size, 2);
  assertSymbolized(symbolized.locations, pie, true);
  const [programStart, programEnd] = nmRange(pie.executable, '_ZN4leak4Pool4growEm');
  const objectAddress = symbolized.locations.get(pie.pcs[1])!.objectAddress!;
  assert.ok(objectAddress >= programStart && objectAddress < programEnd);
});

test('llvm-symbolizer: ET_EXEC program addresses are used as they are', { skip: !hasLlvm }, async () => {
  const symbolized = await symbolizeSnapshot(snapshotOf(noPie), { backend: 'llvm-symbolizer' });
  assertSymbolized(symbolized.locations, noPie, true);
  assert.equal(symbolized.locations.get(noPie.pcs[1])!.objectAddress, noPie.pcs[1] - 1n);
});

test('addr2line fallback gives the same frames, without columns', { skip: !hasAddr2line }, async () => {
  for (const program of [pie, noPie]) {
    const symbolized = await symbolizeSnapshot(snapshotOf(program), { backend: 'addr2line' });
    assert.deepEqual(symbolized.warnings, []);
    assertSymbolized(symbolized.locations, program, false);
  }
});

test('Symbolizer on an nm address: demangled C++ name; repeated requests are answered from the cache', { skip: !hasLlvm }, async () => {
  const symbolizer = await Symbolizer.open({ backend: 'llvm-symbolizer' });
  try {
    const [start] = nmRange(pie.executable, '_ZN4leak4Pool4growEm');
    const request = { objectPath: pie.executable, address: start };
    const [first, again] = await symbolizer.symbolize([request, request]);
    assert.equal(first![0]!.functionName, 'leak::Pool::grow(unsigned long)');
    assert.equal(first, again);
    const [cached] = await symbolizer.symbolize([request]);
    assert.equal(cached, first);
    const [missing] = await symbolizer.symbolize([{ objectPath: join(directory, 'no such object'), address: 0x10n }]);
    assert.deepEqual(missing, []);
  } finally {
    await symbolizer.close();
  }
});

test('a session resolves each snapshot against its own maps', { skip: !hasLlvm }, async () => {
  // The same code loaded elsewhere: shift the library's mappings and its pc by 16 MiB.
  const shift = 0x1000000n;
  const shiftedMaps = pie.maps
    .split('\n')
    .map((line) => {
      if (!line.includes('libsymtest.so')) return line;
      const [range, ...rest] = line.split(' ');
      const [start, end] = range!.split('-').map((hex) => (BigInt(`0x${hex}`) + shift).toString(16));
      return [`${start}-${end}`, ...rest].join(' ');
    })
    .join('\n');
  const shifted: ProgramRun = { ...pie, pcs: [pie.pcs[0] + shift, pie.pcs[1]], bases: [pie.bases[0] + shift, pie.bases[1]], maps: shiftedMaps };
  const session = new SymbolizeSession();
  try {
    const first = await session.symbolize(snapshotOf(pie));
    const second = await session.symbolize(snapshotOf(shifted));
    assertSymbolized(first.locations, pie, true);
    assertSymbolized(second.locations, shifted, true);
    // A pc captured before the library moved (dlclose, dlopen elsewhere) is not in the later layout: it resolves
    // against the earlier snapshot that mapped it, as it was when the stack was captured.
    const stale = await session.symbolize(fakeSnapshot(shiftedMaps, [{ id: 1, pcs: [pie.pcs[0]], javaFrames: [] }]));
    assert.equal(stale.locations.get(pie.pcs[0])!.symbolized, true);
    assert.deepEqual(stale.locations.get(pie.pcs[0])!.frames, first.locations.get(pie.pcs[0])!.frames);
    // An address no snapshot ever mapped stays unsymbolized.
    const unknownPc = 0x10n;
    const unknown = await session.symbolize(fakeSnapshot(shiftedMaps, [{ id: 1, pcs: [unknownPc], javaFrames: [] }]));
    assert.equal(unknown.locations.get(unknownPc)!.symbolized, false);
    assert.equal(await session.backend(), 'llvm-symbolizer');
  } finally {
    await session.close();
  }
});

test('without any symbolizer: placeholders object+offset and one warning per session', async () => {
  const savedPath = process.env['PATH'];
  process.env['PATH'] = join(directory, 'empty-bin');
  const session = new SymbolizeSession();
  try {
    const first = await session.symbolize(snapshotOf(pie));
    assert.equal(first.warnings.length, 1);
    assert.match(first.warnings[0]!, /no symbolizer found/);
    const library = first.locations.get(pie.pcs[0])!;
    assert.equal(library.symbolized, false);
    assert.deepEqual(library.frames, [{ functionName: `libsymtest.so+0x${(pie.pcs[0] - 1n - pie.bases[0]).toString(16)}` }]);
    const second = await session.symbolize(snapshotOf(pie));
    assert.deepEqual(second.warnings, []);
    assert.equal(await session.backend(), 'none');
  } finally {
    process.env['PATH'] = savedPath;
    await session.close();
  }
});

test('pcs outside files: no mapping, pseudo mappings, deleted objects, non-executable and anonymous memory', async () => {
  const maps = [
    '7ffd3c5f0000-7ffd3c5f2000 r-xp 00000000 00:00 0                          [vdso]',
    '7f0000000000-7f0000001000 r-xp 00000000 08:01 77 /gone/libold.so (deleted)',
    `7f0000100000-7f0000101000 rw-p 00000000 08:01 77 ${join(directory, 'libsymtest.so')}`,
    '7f0000200000-7f0000201000 r-xp 00000000 00:00 0 ',
  ].join('\n');
  const pcs = [0x1001n, 0x7ffd3c5f0101n, 0x7f0000000201n, 0x7f0000100011n, 0x7f0000200101n];
  const symbolized = await symbolizeSnapshot(fakeSnapshot(maps, [{ id: 3, pcs, javaFrames: [] }]), { backend: 'none' });
  assert.deepEqual(
    pcs.map((pc) => symbolized.locations.get(pc)!.frames[0]!.functionName),
    ['0x1000', '[vdso]+0x100', 'libold.so+0x200', 'libsymtest.so+0x10', '0x7f0000200100'],
  );
  assert.ok(pcs.every((pc) => !symbolized.locations.get(pc)!.symbolized));
  assert.deepEqual(symbolized.warnings, ['/gone/libold.so was deleted or replaced after it was loaded: its frames are shown as offsets']);
});
