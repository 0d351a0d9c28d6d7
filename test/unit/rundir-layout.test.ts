/** The run directory's one list of what leakhunt owns: what --force removes, and what it leaves. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LeakhuntError } from '../../src/core/errors.js';
import { discardRunDir, isOwnedEntry, prepareRunDir, RUN_ENTRIES } from '../../src/rundir/index.js';

test('isOwnedEntry: every entry leakhunt writes, and their temporary files; nothing else', () => {
  for (const name of Object.values(RUN_ENTRIES)) {
    assert.ok(isOwnedEntry(name), name);
    assert.ok(isOwnedEntry(`${name}.tmp-1234`), `${name}.tmp-1234`);
  }
  for (const name of ['notes.txt', 'report.json.bak', 'jvm.json.tmp-', 'raw2', 'tmp-1234', '.tmp-1']) assert.ok(!isOwnedEntry(name), name);
});

test('prepareRunDir: refuses a non-empty directory without force; with force removes leakhunt\'s files only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-rundir-'));
  try {
    for (const name of Object.values(RUN_ENTRIES)) mkdirSync(join(dir, name));
    writeFileSync(join(dir, 'report.json.tmp-7'), '{');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    assert.throws(() => prepareRunDir(dir, false), (error: LeakhuntError) => error.exitCode === 5 && /not empty/.test(error.message));
    const { runDir, rawDir } = prepareRunDir(dir, true);
    assert.equal(runDir, dir);
    assert.deepEqual(readdirSync(dir).sort(), ['notes.txt', 'raw']);
    assert.ok(existsSync(rawDir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prepareRunDir: a link to an empty directory is that directory; a dangling link is exit 4; discardRunDir takes back what it made', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-layout-'));
  try {
    const target = join(dir, 'target');
    mkdirSync(target);
    symlinkSync(target, join(dir, 'link'));
    const prepared = prepareRunDir(join(dir, 'link'), false);
    assert.equal(prepared.runDir, realpathSync(target));
    assert.equal(prepared.created, false);
    writeFileSync(join(prepared.runDir, 'run.json'), '{}');
    writeFileSync(join(prepared.runDir, 'notes.txt'), 'mine');
    discardRunDir(prepared);
    assert.deepEqual(readdirSync(target), ['notes.txt']);
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    assert.throws(() => prepareRunDir(join(dir, 'dangling'), false), (error: LeakhuntError) => error.exitCode === 4 && /which does not exist/.test(error.message));
    const made = prepareRunDir(join(dir, 'a', 'b', 'run'), false);
    assert.equal(made.created, true);
    assert.equal(statSync(made.runDir).mode & 0o777, 0o700);
    discardRunDir(made);
    assert.ok(!existsSync(made.runDir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
