/** What the push end-to-end tests share: the fixture, the run directory's profiles, and the checks on both ends. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import type { ProfileReceiver, ReceivedProfile } from './profile-receiver.js';

/** leaky_apis (fixtures/c/README.md): leaks 10007 bytes from leak_via_malloc each round; exits with `exitCode`. */
export function leakyApis(fixtureBuild: string, rounds: number, roundMs: number, exitCode = 7): string[] {
  return [join(fixtureBuild, 'leaky_apis'), '--rounds', String(rounds), '--round-ms', String(roundMs), '--exit-code', String(exitCode)];
}

/** The run's profiles on disk (the target's, snapshots/), by the identity a pushed copy keeps: pid and time_nanos. */
export function profilesOfRun(out: string, pid: number): Map<string, string> {
  const dir = join(out, 'snapshots');
  const byKey = new Map<string, string>();
  for (const file of readdirSync(dir).filter((f) => /^\d+\.pb\.gz$/.test(f))) {
    const profile = Profile.decode(gunzipSync(readFileSync(join(dir, file))));
    byKey.set(`${pid}@${BigInt(profile.timeNanos)}`, file);
  }
  return byKey;
}

/** Every profile of the run arrived exactly once, and nothing else did; the receiver saw no contract violation. */
export function assertEachExactlyOnce(receiver: ProfileReceiver, out: string, pid: number): void {
  assert.deepEqual(receiver.violations, [], 'no request broke the contract');
  const expected = profilesOfRun(out, pid);
  assert.ok(expected.size >= 3, `the run has several profiles (${expected.size})`);
  const counts = receiver.countsByProfile();
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no profile arrived twice');
  const missing = [...expected.keys()].filter((key) => !counts.has(key)).map((key) => expected.get(key));
  assert.deepEqual(missing, [], 'every profile arrived');
  const extra = [...counts.keys()].filter((key) => !expected.has(key));
  assert.deepEqual(extra, [], 'nothing arrived that the run does not have');
}

/** In-use bytes of the samples whose stack has `functionName`, in a received profile. */
export function inuseOf(received: ReceivedProfile, functionName: string): number {
  const { profile } = received;
  const strings = profile.stringTable.strings;
  const functions = new Map(profile.function.map((f) => [Number(f.id), strings[Number(f.name)]]));
  const locations = new Map(profile.location.map((l) => [Number(l.id), l.line.map((line) => functions.get(Number(line.functionId)))]));
  const inuse = profile.sampleType.findIndex((t) => strings[Number(t.type)] === 'inuse_space');
  let total = 0;
  for (const sample of profile.sample) {
    if (sample.locationId.some((id) => locations.get(Number(id))?.includes(functionName))) total += Number(sample.value[inuse]);
  }
  return total;
}

/** `secret` appears nowhere: not in the CLI's output, not in any file of the run directory (text or binary). */
export function assertNowhere(secret: string, outputs: string[], out: string): void {
  for (const text of outputs) assert.ok(!text.includes(secret), `the secret is not printed: ${text}`);
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
  for (const file of walk(out)) assert.ok(!readFileSync(file).includes(Buffer.from(secret)), `the secret is not in ${file}`);
}

export interface PushReport {
  push?: { backend: string; endpoint: string; pushed: number; retried: number; left: number; rejected: number; thinned: number; stopped?: string };
  pid: number;
}

/** The lines of stderr that match `pattern`. */
export function linesMatching(stderr: string, pattern: RegExp): string[] {
  return stderr.split('\n').filter((line) => pattern.test(line));
}
