/** The run directory's one list of what leakhunt owns: what --force removes, and what it leaves. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LeakhuntError } from '../../src/core/errors.js';
import { isOwnedEntry, prepareRunDir, RUN_ENTRIES } from '../../src/rundir/index.js';

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
