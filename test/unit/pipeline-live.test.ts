/** Whether a run is still recording or being processed: its recorder's pid (checked against reuse) and its targets. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { liveRecordingOf } from '../../src/pipeline/index.js';
import { RUN_META_SCHEMA, type RunMeta } from '../../src/rundir/index.js';

const meta = (extra: Partial<RunMeta>): RunMeta => ({
  schema: RUN_META_SCHEMA, command: ['app'], startedAtMs: Date.now(), sampleBytes: 4096, snapshotIntervalMs: 1000, ...extra,
});

test('a live recorder that started just before the run: recording, then processing once the target ended', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-live-'));
  try {
    mkdirSync(join(dir, 'raw', String(process.pid)), { recursive: true });
    const startedAtMs = Date.now() - Math.round(process.uptime() * 1000) + 500;
    assert.deepEqual(liveRecordingOf(dir, meta({ recorderPid: process.pid, startedAtMs })), { recorderPid: process.pid, targetPids: [], processing: false },
      'this process has no shim loaded: not a target');
    assert.deepEqual(liveRecordingOf(dir, meta({ recorderPid: process.pid, startedAtMs, endedAtMs: startedAtMs + 10 })), { recorderPid: process.pid, targetPids: [], processing: true });
    // A pid reused by a process that started long before the run, or after it, is not its recorder.
    assert.equal(liveRecordingOf(dir, meta({ recorderPid: process.pid, startedAtMs: startedAtMs + 3_600_000 })), undefined);
    assert.equal(liveRecordingOf(dir, meta({ recorderPid: process.pid, startedAtMs: startedAtMs - 3_600_000 })), undefined);
    assert.equal(liveRecordingOf(dir, meta({ recorderPid: 0x3fffffff, startedAtMs })), undefined, 'no such process');
    assert.equal(liveRecordingOf(dir, meta({})), undefined, 'a run.json without a recorder pid (an older run)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
