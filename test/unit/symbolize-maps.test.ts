import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileOffsetOf, findMapping, isExecutable, isFileBacked, objectRelativeAddress, parseMaps } from '../../src/symbolize/maps.js';
import { ElfType, type ElfInfo } from '../../src/symbolize/elf.js';

const mapsText = [
  '55e18b8cf000-55e18b8d4000 r-xp 00002000 fe:00 260131                     /usr/bin/cat',
  '55e18b8cd000-55e18b8cf000 r--p 00000000 fe:00 260131                     /usr/bin/cat',
  '55e1c5e4d000-55e1c5e6e000 rw-p 00000000 00:00 0                          [heap]',
  '7f2b766b0000-7f2b766d2000 rw-p 00000000 00:00 0 ',
  '7f2b766d2000-7f2b766d3000 r-xp 00001000 08:01 1234                       /opt/my app/lib/libfoo bar.so',
  '7f2b766d3000-7f2b766d4000 r-xp 00000000 08:01 99                         /tmp/libgone.so (deleted)',
  '7f2b766d4000-7f2b766d5000 r-xp 00000000 00:01 7                          /memfd:jit code (deleted)',
  '7ffd3c5f0000-7ffd3c5f2000 r-xp 00000000 00:00 0                          [vdso]',
  'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
  'not a maps line',
  '',
].join('\n');

test('parseMaps sorts by start and keeps every field', () => {
  const mappings = parseMaps(mapsText);
  assert.equal(mappings.length, 9);
  for (let i = 1; i < mappings.length; i++) assert.ok(mappings[i - 1]!.startAddress < mappings[i]!.startAddress);
  const text = mappings[1]!;
  assert.deepEqual(text, {
    startAddress: 0x55e18b8cf000n,
    endAddress: 0x55e18b8d4000n,
    fileOffset: 0x2000n,
    perms: 'r-xp',
    device: 'fe:00',
    inode: 260131,
    path: '/usr/bin/cat',
    deleted: false,
  });
  assert.ok(isExecutable(text));
  assert.ok(isFileBacked(text));
});

test('parseMaps: spaces inside paths, (deleted), anonymous and pseudo mappings', () => {
  const byStart = new Map(parseMaps(mapsText).map((m) => [m.startAddress, m]));
  const spaced = byStart.get(0x7f2b766d2000n)!;
  assert.equal(spaced.path, '/opt/my app/lib/libfoo bar.so');
  assert.equal(spaced.deleted, false);

  const gone = byStart.get(0x7f2b766d3000n)!;
  assert.equal(gone.path, '/tmp/libgone.so');
  assert.equal(gone.deleted, true);
  assert.ok(isFileBacked(gone));

  const memfd = byStart.get(0x7f2b766d4000n)!;
  assert.equal(memfd.path, '/memfd:jit code');
  assert.equal(memfd.deleted, true);

  const anonymous = byStart.get(0x7f2b766b0000n)!;
  assert.equal(anonymous.path, '');
  assert.equal(anonymous.inode, 0);
  assert.ok(!isFileBacked(anonymous));

  const vdso = byStart.get(0x7ffd3c5f0000n)!;
  assert.equal(vdso.path, '[vdso]');
  assert.ok(!isFileBacked(vdso));
  assert.ok(isExecutable(vdso));

  assert.equal(byStart.get(0x55e1c5e4d000n)!.path, '[heap]');
  assert.equal(byStart.get(0xffffffffff600000n)!.path, '[vsyscall]');
});

test('parseMaps decodes the kernel escape of a newline in a file name', () => {
  const [mapping] = parseMaps('7f0000000000-7f0000001000 r-xp 00000000 08:01 5 /tmp/odd\\012name.so\n');
  assert.equal(mapping!.path, '/tmp/odd\nname.so');
});

test('findMapping finds the containing mapping at the edges and nothing in gaps', () => {
  const mappings = parseMaps(mapsText);
  assert.equal(findMapping(mappings, 0x55e18b8cd000n)?.perms, 'r--p');
  assert.equal(findMapping(mappings, 0x55e18b8cefffn)?.perms, 'r--p');
  assert.equal(findMapping(mappings, 0x55e18b8cf000n)?.perms, 'r-xp');
  assert.equal(findMapping(mappings, 0x55e18b8d3fffn)?.path, '/usr/bin/cat');
  assert.equal(findMapping(mappings, 0x55e18b8d4000n), undefined);
  assert.equal(findMapping(mappings, 0n), undefined);
  assert.equal(findMapping(mappings, 0xffffffffff600123n)?.path, '[vsyscall]');
  assert.equal(findMapping(mappings, 0xfffffffffffffffn), undefined);
  assert.equal(findMapping([], 1n), undefined);
});

test('objectRelativeAddress: ET_EXEC keeps the address, ET_DYN removes the load bias per segment', () => {
  const [mapping] = parseMaps('7f0000011000-7f0000012000 r-xp 00001000 08:01 5 /lib/x.so\n');
  const segments = [
    { fileOffset: 0n, virtualAddress: 0x10000n, fileBytes: 0x570n, memoryBytes: 0x570n, alignBytes: 0x1000n, executable: false },
    { fileOffset: 0x1000n, virtualAddress: 0x11000n, fileBytes: 0x17dn, memoryBytes: 0x17dn, alignBytes: 0x1000n, executable: true },
  ];
  const shared: ElfInfo = { elfType: ElfType.shared, machine: 62, is64Bit: true, littleEndian: true, loadSegments: segments };
  assert.equal(fileOffsetOf(mapping!, 0x7f0000011123n), 0x1123n);
  assert.equal(objectRelativeAddress(mapping!, 0x7f0000011123n, shared), 0x11123n);
  const executable: ElfInfo = { ...shared, elfType: ElfType.executable };
  assert.equal(objectRelativeAddress(mapping!, 0x7f0000011123n, executable), 0x7f0000011123n);
  const core: ElfInfo = { ...shared, elfType: ElfType.core };
  assert.equal(objectRelativeAddress(mapping!, 0x7f0000011123n, core), undefined);
});
