/**
 * Kept copies of deleted objects (objects/index.json) and separate debug info (build id, .gnu_debuglink): the
 * lookups on their own, then through a session with each backend, on fixtures/c/libinlined.c compiled and
 * stripped here the way distributions strip packages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawSnapshot } from '../../src/snapshot/types.js';
import { debugDirectories, findDebugFile, llvmDebugDirectoryArgs } from '../../src/symbolize/debuginfo.js';
import { parseElfFile } from '../../src/symbolize/elf.js';
import { SymbolizeSession, type SymbolizeOptions } from '../../src/symbolize/index.js';
import { parseMaps } from '../../src/symbolize/maps.js';
import { readObjectsIndex } from '../../src/rundir/index.js';
import { KeptObjects, mappedFileChanged } from '../../src/symbolize/objects.js';
import { findLlvmSymbolizer, findOnPath } from '../../src/symbolize/tools.js';

const source = fileURLToPath(new URL('../../../fixtures/c/libinlined.c', import.meta.url));
const hasLlvm = findLlvmSymbolizer() !== undefined;
const hasAddr2line = findOnPath('addr2line') !== undefined;
const tools = ['cc', 'objcopy', 'strip', 'objdump'].every((t) => findOnPath(t) !== undefined);

let dir = '';
let buildId = '';
/** The return address of the call to malloc inside inlined_leak_entry, as an object address. */
let returnAddress = 0n;
/** [vaddr, file offset] of the executable segment. */
let textSegment: [bigint, bigint] = [0n, 0n];

const path = (...parts: string[]) => join(dir, ...parts);
const run = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { encoding: 'utf8', cwd });

before(() => {
  if (!tools) return;
  dir = mkdtempSync(join(tmpdir(), 'leakhunt-objects-'));
  for (const d of ['orig/.debug', 'bid', 'plain', 'run/objects']) mkdirSync(path(d), { recursive: true });
  run('cc', ['-O2', '-g', '-shared', '-fPIC', '-Wl,--build-id=sha1', '-o', path('full.so'), source]);
  run('objcopy', ['--only-keep-debug', path('full.so'), path('orig/.debug/libinlined.so.debug')]);
  run('strip', ['--strip-debug', '--strip-unneeded', '-o', path('orig/libinlined.so'), path('full.so')]);
  run('objcopy', ['--add-gnu-debuglink=.debug/libinlined.so.debug', 'libinlined.so'], path('orig'));
  run('strip', ['--strip-debug', '--strip-unneeded', '-o', path('bid/libinlined.so'), path('full.so')]);
  run('strip', ['--strip-debug', '--strip-unneeded', '-o', path('plain/libinlined.so'), path('full.so')]);
  const elf = parseElfFile(path('full.so'))!;
  buildId = elf.buildId!;
  mkdirSync(path('debug-dir/.build-id', buildId.slice(0, 2)), { recursive: true });
  copyFileSync(path('orig/.debug/libinlined.so.debug'), path('debug-dir/.build-id', buildId.slice(0, 2), `${buildId.slice(2)}.debug`));
  const segment = elf.loadSegments.find((s) => s.executable)!;
  textSegment = [segment.virtualAddress, segment.fileOffset];
  const lines = run('objdump', ['-d', '--no-show-raw-insn', path('full.so')]).split('\n');
  const call = lines.findIndex((l) => /\bcall\b.*<malloc@plt>/.test(l));
  assert.ok(call >= 0, 'a call to malloc');
  returnAddress = BigInt(`0x${/^\s*([0-9a-f]+):/.exec(lines[call + 1]!)![1]}`);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const bias = 0x7f1000000000n;
const inode = 4242;

/** A snapshot whose one stack returns into inlined_leak_entry, mapped from `mappedPath` at `bias`. */
function snapshotOf(mappedPath: string, deleted: boolean, mappedInode = inode): RawSnapshot {
  const [vaddr, offset] = textSegment;
  const start = bias + (vaddr & ~0xfffn);
  const line = `${start.toString(16)}-${(start + 0x10000n).toString(16)} r-xp ${(offset & ~0xfffn).toString(16).padStart(8, '0')} 08:01 ${mappedInode} ${mappedPath}${deleted ? ' (deleted)' : ''}`;
  return {
    path: 'test.lhs', maps: line, stacks: new Map([[1, { id: 1, pcs: [bias + returnAddress], javaFrames: [] }]]),
    sites: [], javaMethods: new Map(),
  } as unknown as RawSnapshot;
}

async function framesOf(snapshot: RawSnapshot, options: SymbolizeOptions) {
  const session = new SymbolizeSession(options);
  try {
    const symbolized = await session.symbolize(snapshot);
    const location = symbolized.locations.get(bias + returnAddress)!;
    return { location, names: location.frames.map((f) => f.functionName), warnings: symbolized.warnings };
  } finally {
    await session.close();
  }
}

const inlineChain = ['inline_innermost', 'inline_middle', 'inline_outer', 'inlined_leak_entry'];
/** The source lines of the malloc call and of the three calls inlined into each other. */
function chainLines(): number[] {
  const lines = readFileSync(source, 'utf8').split('\n');
  return ['malloc(INLINED_LEAK_BYTES)', '= inline_innermost(round)', '= inline_middle(round + 1)', '= inline_outer(round)']
    .map((text) => lines.findIndex((line) => line.includes(text)) + 1);
}

function writeIndex(objects: unknown[]): void {
  const temporary = path('run/objects/index.json.tmp');
  writeFileSync(temporary, JSON.stringify({ schema: 'leakhunt.objects/v1', objects }));
  renameSync(temporary, path('run/objects/index.json'));
}

test('readObjectsIndex: well-formed entries only; a missing or broken index is empty', { skip: !tools }, () => {
  const objectsDir = path('index-test');
  mkdirSync(objectsDir, { recursive: true });
  assert.deepEqual(readObjectsIndex(objectsDir), []);
  writeFileSync(join(objectsDir, 'index.json'), '{"objects": [');
  assert.deepEqual(readObjectsIndex(objectsDir), []);
  writeFileSync(join(objectsDir, 'index.json'), JSON.stringify({ objects: [
    { originalPath: '/tmp/a.so', inode: 1, keptPath: 'x-a.so', buildId: 'ab' },
    { originalPath: '/tmp/b.so', inode: '2', keptPath: 'b.so' },
    { originalPath: '/tmp/c.so', inode: 3, keptPath: '' },
    null,
    { originalPath: '/tmp/d.so', inode: 4, keptPath: '/abs/d.so' },
  ] }));
  assert.deepEqual(readObjectsIndex(objectsDir).map((e) => e.originalPath), ['/tmp/a.so', '/tmp/d.so']);
});

test('KeptObjects: by original path and inode, only when the mapped file is gone or another one', { skip: !tools }, () => {
  const objectsDir = path('run/objects');
  copyFileSync(path('orig/libinlined.so'), join(objectsDir, `${buildId}-libinlined.so`));
  const live = statSync(path('plain/libinlined.so')).ino;
  writeIndex([
    { originalPath: '/tmp/gone/libinlined.so', inode, buildId, keptPath: `${buildId}-libinlined.so` },
    { originalPath: path('plain/libinlined.so'), inode: live, keptPath: `${buildId}-libinlined.so` },
    { originalPath: path('plain/libinlined.so'), inode: 77, keptPath: join(objectsDir, `${buildId}-libinlined.so`) },
    { originalPath: '/tmp/lost.so', inode: 5, keptPath: 'never-copied.so' },
  ]);
  const kept = new KeptObjects(objectsDir);
  const copy = join(objectsDir, `${buildId}-libinlined.so`);
  assert.equal(kept.find('/tmp/gone/libinlined.so', inode), copy);
  assert.equal(kept.find('/tmp/gone/libinlined.so', inode + 1), undefined, 'another inode is another object');
  assert.equal(kept.find('/tmp/lost.so', 5), undefined, 'listed but not on disk');

  const [deleted] = parseMaps(`7f0000000000-7f0000001000 r-xp 00000000 08:01 ${inode} /tmp/gone/libinlined.so (deleted)`);
  const [unchanged] = parseMaps(`7f0000000000-7f0000001000 r-xp 00000000 08:01 ${live} ${path('plain/libinlined.so')}`);
  const [replaced] = parseMaps(`7f0000000000-7f0000001000 r-xp 00000000 08:01 77 ${path('plain/libinlined.so')}`);
  const [missing] = parseMaps(`7f0000000000-7f0000001000 r-xp 00000000 08:01 ${inode} /tmp/gone/libinlined.so`);
  assert.deepEqual([deleted, unchanged, replaced, missing].map((m) => mappedFileChanged(m!)), [true, false, true, true]);
  assert.equal(kept.forMapping(deleted!), copy);
  assert.equal(kept.forMapping(unchanged!), undefined, 'the file on disk is what ran: no copy needed');
  assert.equal(kept.forMapping(replaced!), copy, 'absolute keptPath');
  assert.equal(kept.forMapping(missing!), copy);

  writeIndex([]);
  assert.equal(kept.forMapping(deleted!), copy, 'answers are cached until refresh()');
  kept.refresh();
  assert.equal(kept.forMapping(deleted!), undefined, 'a changed index is re-read');
});

test('debug directories: /usr/lib/debug first, then LEAKHUNT_DEBUG_DIRS; llvm-symbolizer options only when needed', () => {
  assert.deepEqual(debugDirectories(undefined, {}), ['/usr/lib/debug']);
  assert.deepEqual(debugDirectories(undefined, { LEAKHUNT_DEBUG_DIRS: '/opt/dbg::/usr/lib/debug:/srv/x/' }), ['/usr/lib/debug', '/opt/dbg', '/srv/x']);
  assert.deepEqual(debugDirectories(['rel'], { LEAKHUNT_DEBUG_DIRS: '/ignored' }), ['/usr/lib/debug', join(process.cwd(), 'rel')]);
  assert.deepEqual(llvmDebugDirectoryArgs(['/usr/lib/debug']), []);
  assert.deepEqual(llvmDebugDirectoryArgs(['/usr/lib/debug', '/opt/dbg']), ['--debug-file-directory=/usr/lib/debug', '--debug-file-directory=/opt/dbg']);
});

test('findDebugFile: by build id, by debuglink (next to, .debug/, under a debug directory, next to a kept copy\'s original)', { skip: !tools }, () => {
  const dirs = ['/usr/lib/debug', path('debug-dir')];
  const byId = path('debug-dir/.build-id', buildId.slice(0, 2), `${buildId.slice(2)}.debug`);
  const stripped = parseElfFile(path('bid/libinlined.so'))!;
  assert.equal(stripped.debugLink, undefined);
  assert.deepEqual(findDebugFile(path('bid/libinlined.so'), stripped, dirs), { path: byId, foundBy: 'build-id', llvmFindsIt: true });
  assert.equal(findDebugFile(path('bid/libinlined.so'), stripped, ['/usr/lib/debug']), undefined);

  const linked = parseElfFile(path('orig/libinlined.so'))!;
  assert.equal(linked.debugLink, 'libinlined.so.debug');
  assert.deepEqual(findDebugFile(path('orig/libinlined.so'), linked, ['/usr/lib/debug']),
    { path: path('orig/.debug/libinlined.so.debug'), foundBy: 'debuglink', llvmFindsIt: true });
  // A kept copy: the debuglink is resolved next to where the object was loaded from, which llvm-symbolizer cannot know.
  const copy = path('run/objects', `${buildId}-libinlined.so`);
  assert.deepEqual(findDebugFile(copy, linked, ['/usr/lib/debug'], path('orig/libinlined.so')),
    { path: path('orig/.debug/libinlined.so.debug'), foundBy: 'debuglink', llvmFindsIt: false });
  // Under a debug directory at the object's absolute directory, gdb style.
  const tree = path('tree');
  mkdirSync(join(tree, relative('/', path('elsewhere'))), { recursive: true });
  copyFileSync(path('orig/.debug/libinlined.so.debug'), join(tree, relative('/', path('elsewhere')), 'libinlined.so.debug'));
  assert.deepEqual(findDebugFile(copy, linked, ['/usr/lib/debug', tree], path('elsewhere/libinlined.so')),
    { path: join(tree, relative('/', path('elsewhere')), 'libinlined.so.debug'), foundBy: 'debuglink', llvmFindsIt: false });
  assert.equal(findDebugFile(copy, linked, ['/usr/lib/debug'], path('elsewhere/libinlined.so')), undefined);
  // The build id must match when both have one.
  assert.equal(findDebugFile(copy, { ...linked, buildId: '00'.repeat(20) }, ['/usr/lib/debug'], path('orig/libinlined.so')), undefined);
});

for (const backend of ['llvm-symbolizer', 'addr2line'] as const) {
  const skip = !tools || !(backend === 'llvm-symbolizer' ? hasLlvm : hasAddr2line);

  test(`${backend}: a deleted object is symbolized from its kept copy, with its debuglink's inline frames`, { skip }, async () => {
    copyFileSync(path('orig/libinlined.so'), path('run/objects', `${buildId}-libinlined.so`));
    writeIndex([{ originalPath: path('orig/libinlined.so'), inode, buildId, keptPath: `${buildId}-libinlined.so` }]);
    const { location, names, warnings } = await framesOf(snapshotOf(path('orig/libinlined.so'), true), { backend, objectsDir: path('run/objects') });
    assert.deepEqual(names, inlineChain, JSON.stringify(warnings));
    assert.deepEqual(location.frames.map((f) => f.line), chainLines());
    assert.ok(location.frames.every((f) => f.fileName === source));
    assert.equal(location.objectAddress, returnAddress - 1n);
    assert.equal(location.buildId, buildId);
    assert.equal(location.mapping?.path, path('orig/libinlined.so'), 'the mapping still names what ran');

    const without = await framesOf(snapshotOf(path('orig/libinlined.so'), true), { backend });
    assert.equal(without.location.symbolized, false);
    assert.match(without.warnings.join('\n'), /was deleted or replaced after it was loaded/);
  });

  test(`${backend}: a stripped object's debug info found by build id in a configured directory`, { skip }, async () => {
    const live = statSync(path('bid/libinlined.so')).ino;
    const found = await framesOf(snapshotOf(path('bid/libinlined.so'), false, live), { backend, debugDirs: [path('debug-dir')] });
    assert.deepEqual(found.names, inlineChain);
    assert.deepEqual(found.location.frames.map((f) => f.line), chainLines());
    assert.ok(found.location.frames.every((f) => f.fileName === source));
    const notFound = await framesOf(snapshotOf(path('bid/libinlined.so'), false, live), { backend, debugDirs: [] });
    assert.ok(!notFound.names.includes('inline_innermost'), `no debug info, no inline frames: ${notFound.names.join(', ')}`);
  });
}
