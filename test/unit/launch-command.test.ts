/** Whether a command can start (the shell's 127 and 126), and leakhunt run's exit status for how it ended. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { LeakhuntError } from '../../src/core/errors.js';
import { checkCommandRunnable, isStartFailure, runExitStatus } from '../../src/launch/index.js';
import { tempDir } from '../e2e/helpers.js';

describe('checkCommandRunnable', () => {
  test('found in PATH as execvp finds it, past directories and unrunnable files of that name; else 127 or 126', () => {
    const dir = tempDir();
    try {
      const [a, b, c] = ['a', 'b', 'c'].map((d) => join(dir.path, d));
      for (const d of [a!, b!, c!]) mkdirSync(d);
      mkdirSync(join(a!, 'tool'));
      writeFileSync(join(b!, 'tool'), '#!/bin/sh\n');
      chmodSync(join(b!, 'tool'), 0o644);
      writeFileSync(join(c!, 'tool'), '#!/bin/sh\n');
      chmodSync(join(c!, 'tool'), 0o755);
      checkCommandRunnable('tool', [a, b, c].join(':'));
      const code = (f: () => void) => { try { f(); return 0; } catch (error) { assert.ok(isStartFailure(error)); return (error as LeakhuntError).exitCode; } };
      assert.equal(code(() => checkCommandRunnable('tool', [a, b].join(':'))), 126);
      assert.equal(code(() => checkCommandRunnable('tool', a!)), 127);
      assert.equal(code(() => checkCommandRunnable('no-such-tool', [a, b, c].join(':'))), 127);
      assert.equal(code(() => checkCommandRunnable(join(b!, 'tool'))), 126);
      assert.equal(code(() => checkCommandRunnable(a!)), 126);
      assert.equal(code(() => checkCommandRunnable(join(a!, 'missing'))), 127);
      assert.equal(code(() => checkCommandRunnable(join(c!, 'tool'))), 0);
    } finally {
      dir.cleanup();
    }
  });
});

describe('runExitStatus', () => {
  test('the command\'s own status, but 0 when leakhunt stopped it at --duration, unless it then crashed', () => {
    assert.equal(runExitStatus({ exitStatus: 9, stoppedByLeakhunt: false }), 9);
    assert.equal(runExitStatus({ exitStatus: 143, signal: 'SIGTERM', stoppedByLeakhunt: false }), 143, 'a SIGTERM from elsewhere');
    assert.equal(runExitStatus({ exitStatus: 143, signal: 'SIGTERM', stoppedByLeakhunt: true }), 0);
    assert.equal(runExitStatus({ exitStatus: 137, signal: 'SIGKILL', stoppedByLeakhunt: true }), 0, 'killed after the grace period');
    assert.equal(runExitStatus({ exitStatus: 143, stoppedByLeakhunt: true }), 0, 'a JVM exits 143 itself');
    assert.equal(runExitStatus({ exitStatus: 1, stoppedByLeakhunt: true }), 0, 'a status of its choosing on the way out');
    assert.equal(runExitStatus({ exitStatus: 139, signal: 'SIGSEGV', stoppedByLeakhunt: true }), 139, 'a crash while stopping');
  });
});
