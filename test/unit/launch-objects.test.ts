/** The object keeper on a real process whose executable is deleted while it runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deletedExecutableMappings, startObjectKeeper } from '../../src/launch/objects.js';
import type { KeptObject } from '../../src/rundir/index.js';
import { buildIdOf } from '../../src/symbolize/index.js';

const sleepBinary = ['/bin/sleep', '/usr/bin/sleep'].find((p) => existsSync(p));

test('deletedExecutableMappings: executable file mappings marked deleted, bounds and inode parsed, newlines unescaped', () => {
  const maps = [
    '55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 11 /tmp/a.so (deleted)',
    '55d0c0a02000-55d0c0a04000 r-xp 00002000 08:01 11 /tmp/a.so (deleted)',
    '7f0000000000-7f0000001000 r-xp 00000000 08:01 12 /usr/lib/libz.so.1',
    '7f0000001000-7f0000002000 r-xs 00000000 00:01 13 /memfd:jit\\012x (deleted)',
    '7f0000002000-7f0000003000 r-xp 00000000 00:00 0 /weird (deleted)',
    '00400000-00401000 r-xp 00000000 08:01 14     /tmp/with space (deleted)',
  ].join('\n');
  assert.deepEqual(deletedExecutableMappings(maps), [
    { start: 0x55d0c0a02000n, end: 0x55d0c0a04000n, inode: 11, path: '/tmp/a.so' },
    { start: 0x7f0000001000n, end: 0x7f0000002000n, inode: 13, path: '/memfd:jit\nx' },
    { start: 0x400000n, end: 0x401000n, inode: 14, path: '/tmp/with space' },
  ]);
});

test('the keeper copies an executable deleted while it runs, once, and lists it in objects/index.json', { skip: !sleepBinary }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-keeper-'));
  const program = join(dir, 'sleepy');
  copyFileSync(sleepBinary!, program);
  const child = spawn(program, ['30'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => child.once('spawn', resolve));
    // Wait until the exec is done (maps show the copy), then delete the file.
    for (let i = 0; i < 100 && !readFileSync(`/proc/${child.pid}/maps`, 'utf8').includes(program); i++) await new Promise((r) => setTimeout(r, 20));
    const inode = statSync(program).ino;
    unlinkSync(program);
    const warnings: string[] = [];
    const keeper = startObjectKeeper(child.pid!, join(dir, 'run'), { intervalMs: 50, buildIdOf, onWarning: (m) => warnings.push(m) });
    const index = join(dir, 'run', 'objects', 'index.json');
    for (let i = 0; i < 100 && !existsSync(index); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // a few more scans: still one entry
    await keeper.stop();
    await keeper.stop();
    assert.deepEqual(warnings, []);
    const { schema, objects } = JSON.parse(readFileSync(index, 'utf8')) as { schema: string; objects: KeptObject[] };
    assert.equal(schema, 'leakhunt.objects/v1');
    assert.equal(objects.length, 1, JSON.stringify(objects));
    const [kept] = objects;
    assert.equal(kept!.originalPath, program);
    assert.equal(kept!.inode, inode);
    const id = buildIdOf(sleepBinary!);
    assert.equal(kept!.buildId, id);
    assert.equal(kept!.keptPath, `${id ?? `inode${inode}`}-sleepy`);
    assert.deepEqual(readFileSync(join(dir, 'run', 'objects', kept!.keptPath)), readFileSync(sleepBinary!));
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a keeper of a process that is gone writes nothing and stops cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-keeper-'));
  try {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    const keeper = startObjectKeeper(child.pid!, dir, { intervalMs: 10 });
    await new Promise((r) => setTimeout(r, 50));
    await keeper.stop();
    assert.equal(existsSync(join(dir, 'objects')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
