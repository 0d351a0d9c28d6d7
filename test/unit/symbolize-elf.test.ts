import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElfType, parseElfFile, readElfInfo } from '../../src/symbolize/elf.js';
import { findMapping, objectRelativeAddress, parseMaps, symbolizerAddress } from '../../src/symbolize/maps.js';

const librarySource = fileURLToPath(new URL('../../../test/unit/data/symbolize_lib.c', import.meta.url));
let directory = '';

function run(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8' });
}

function nmAddress(path: string, symbol: string): bigint {
  const line = run('nm', [path]).split('\n').find((l) => l.endsWith(` ${symbol}`));
  assert.ok(line, `${symbol} not in nm ${path}`);
  return BigInt(`0x${line.split(' ')[0]}`);
}

/** PT_LOAD rows of `readelf -lW`: [offset, vaddr, filesz, memsz, flags]. */
function readelfLoads(path: string): { offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint; flags: string }[] {
  return run('readelf', ['-lW', path])
    .split('\n')
    .filter((l) => /^\s*LOAD\s/.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return { offset: BigInt(f[1]!), vaddr: BigInt(f[2]!), filesz: BigInt(f[4]!), memsz: BigInt(f[5]!), flags: f.slice(6, -1).join('') };
    });
}

/** The maps text the dynamic loader would produce for `path` loaded with bias `bias` (4 KiB pages). */
function synthesizeMaps(path: string, bias: bigint): string {
  const page = 0x1000n;
  return readelfLoads(path)
    .map((s) => {
      const start = bias + s.vaddr - (s.vaddr % page);
      const end = bias + ((s.vaddr + s.memsz + page - 1n) / page) * page;
      const perms = `${s.flags.includes('R') ? 'r' : '-'}${s.flags.includes('W') ? 'w' : '-'}${s.flags.includes('E') ? 'x' : '-'}p`;
      const offset = s.offset - (s.offset % page);
      return `${start.toString(16)}-${end.toString(16)} ${perms} ${offset.toString(16).padStart(8, '0')} 08:01 4242 ${path}`;
    })
    .join('\n');
}

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'leakhunt-elf-'));
  run('cc', ['-O2', '-g', '-shared', '-fPIC', '-o', join(directory, 'libplain.so'), librarySource]);
  // A non-zero link base makes p_vaddr differ from p_offset, as with prelinked objects or some linkers.
  run('cc', ['-O2', '-g', '-shared', '-fPIC', '-Wl,-Ttext-segment=0x10000', '-o', join(directory, 'libbased.so'), librarySource]);
  run('cc', ['-O2', '-g', '-shared', '-fPIC', '-Wl,--build-id=sha1', '-o', join(directory, 'liblinked.so'), librarySource]);
  run('objcopy', ['--only-keep-debug', join(directory, 'liblinked.so'), join(directory, 'liblinked.debug')]);
  run('objcopy', ['--strip-debug', `--add-gnu-debuglink=${join(directory, 'liblinked.debug')}`, join(directory, 'liblinked.so')]);
  writeFileSync(join(directory, 'main.c'), 'int main(void) { return 0; }\n');
  run('cc', ['-O2', '-no-pie', '-fno-pie', '-o', join(directory, 'nopie'), join(directory, 'main.c')]);
  run('cc', ['-O2', '-pie', '-fPIE', '-o', join(directory, 'pie'), join(directory, 'main.c')]);
});

after(() => rmSync(directory, { recursive: true, force: true }));

test('program headers match readelf', () => {
  for (const name of ['libplain.so', 'libbased.so']) {
    const path = join(directory, name);
    const info = parseElfFile(path);
    assert.ok(info);
    assert.equal(info.elfType, ElfType.shared);
    assert.ok(info.is64Bit);
    const expected = readelfLoads(path);
    assert.equal(info.loadSegments.length, expected.length);
    info.loadSegments.forEach((segment, i) => {
      assert.equal(segment.fileOffset, expected[i]!.offset);
      assert.equal(segment.virtualAddress, expected[i]!.vaddr);
      assert.equal(segment.fileBytes, expected[i]!.filesz);
      assert.equal(segment.memoryBytes, expected[i]!.memsz);
      assert.equal(segment.executable, expected[i]!.flags.includes('E'));
    });
  }
});

test('object type: ET_EXEC for -no-pie, ET_DYN for PIE', () => {
  assert.equal(parseElfFile(join(directory, 'nopie'))?.elfType, ElfType.executable);
  assert.equal(parseElfFile(join(directory, 'pie'))?.elfType, ElfType.shared);
});

test('build id and .gnu_debuglink match readelf', () => {
  const path = join(directory, 'liblinked.so');
  const expected = /Build ID: ([0-9a-f]+)/.exec(run('readelf', ['-n', path]))?.[1];
  assert.ok(expected);
  const info = parseElfFile(path);
  assert.equal(info?.buildId, expected);
  assert.equal(info?.debugLink, 'liblinked.debug');
  assert.equal(parseElfFile(join(directory, 'libplain.so'))?.debugLink, undefined);
});

test('not ELF or missing: undefined, cached', () => {
  writeFileSync(join(directory, 'text.so'), 'not an object');
  assert.equal(parseElfFile(join(directory, 'text.so')), undefined);
  assert.equal(parseElfFile(join(directory, 'absent.so')), undefined);
  assert.equal(readElfInfo(join(directory, 'absent.so')), undefined);
  assert.equal(readElfInfo(join(directory, 'libplain.so')), readElfInfo(join(directory, 'libplain.so')));
});

test('runtime address → nm address for a shared library loaded at a bias', () => {
  for (const name of ['libplain.so', 'libbased.so']) {
    const path = join(directory, name);
    const bias = 0x7f1234500000n;
    const mappings = parseMaps(synthesizeMaps(path, bias));
    const info = readElfInfo(path)!;
    for (const symbol of ['lib_leak', 'capture_caller']) {
      const symbolAddress = nmAddress(path, symbol);
      for (const inside of [0n, 5n]) {
        const runtimeAddress = bias + symbolAddress + inside;
        const mapping = findMapping(mappings, runtimeAddress);
        assert.ok(mapping && mapping.perms.includes('x'), `${name} ${symbol} lands in ${mapping?.perms}`);
        assert.equal(objectRelativeAddress(mapping, runtimeAddress, info), symbolAddress + inside, `${name} ${symbol}`);
        assert.equal(symbolizerAddress(mapping, runtimeAddress), symbolAddress + inside);
      }
    }
  }
});

test('symbolizerAddress declines deleted and anonymous mappings', () => {
  const path = join(directory, 'libplain.so');
  const [deleted, anonymous] = parseMaps(
    `7f0000001000-7f0000002000 r-xp 00001000 08:01 4242 ${path} (deleted)\n7f0000003000-7f0000004000 r-xp 00000000 00:00 0 \n`,
  );
  assert.equal(symbolizerAddress(deleted!, 0x7f0000001100n), undefined);
  assert.equal(symbolizerAddress(anonymous!, 0x7f0000003100n), undefined);
});
