/**
 * The push form of a run's profiles: the live heap only (inuse_*), no duration, no per-sample labels, every table
 * as it was; the field-level rewrite held to pprof-format's decode-filter-encode as the reference.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { decodeHeapProfile, sampleValueIndex } from '../../src/pprof/read.js';
import { ProfileFormError, pushFormOf, rewriteDecoded, rewritePlain } from '../../src/push/profile.js';
import { NotPlain } from '../../src/pprof/protobuf.js';
import { pprofProblem } from '../support/profile-receiver.js';
import { heapProfileGz } from './helpers/heap-profiles.js';
import { mulberry32 } from './helpers/prng.js';

/** What a profile says, as plain data: to compare two encodings of it. */
function contents(bytes: Uint8Array) {
  const p = Profile.decode(bytes);
  const strings = p.stringTable.strings;
  const s = (i: unknown) => strings[Number(i)];
  return {
    sampleTypes: p.sampleType.map((t) => `${s(t.type)}/${s(t.unit)}`),
    samples: p.sample.map((x) => ({ locations: x.locationId.map(Number), values: x.value.map(Number), labels: x.label.length })),
    locations: p.location.map((l) => ({ id: Number(l.id), mapping: Number(l.mappingId), address: String(l.address), lines: l.line.map((ln) => `${s(p.function[Number(ln.functionId) - 1]?.name)}:${Number(ln.line)}`) })),
    mappings: p.mapping.map((m) => `${Number(m.id)} ${s(m.filename)} ${s(m.buildId)}`),
    timeNanos: String(p.timeNanos), durationNanos: Number(p.durationNanos), period: Number(p.period),
    periodType: p.periodType ? `${s(p.periodType.type)}/${s(p.periodType.unit)}` : '', defaultSampleType: s(p.defaultSampleType),
  };
}

describe('push form of a profile', () => {
  test('keeps the live heap only, as a gauge', async () => {
    const file = heapProfileGz({ timeNanos: 1_700_000_000_123_456_789n, durationNanos: 250_000_000n, live: [30021, 0, 4099] });
    const original = decodeHeapProfile(gunzipSync(file), 'original');
    const pushed = await pushFormOf(file);
    assert.equal(pushed.timeNanos, 1_700_000_000_123_456_789n);
    assert.equal(pushed.spanNanos, 250_000_000n);
    assert.deepEqual([...pushed.gz.subarray(0, 2)], [0x1f, 0x8b], 'gzip-compressed');
    const form = contents(gunzipSync(pushed.gz));
    assert.deepEqual(form.sampleTypes, ['inuse_objects/count', 'inuse_space/bytes']);
    assert.equal(form.durationNanos, 0);
    assert.equal(form.timeNanos, '1700000000123456789');
    assert.equal(form.defaultSampleType, 'inuse_space');
    assert.equal(form.periodType, 'space/bytes');
    assert.equal(form.period, 4096);
    const inuse = sampleValueIndex(original, 'inuse_space');
    const objects = sampleValueIndex(original, 'inuse_objects');
    const live = original.samples.filter((s) => s.values[inuse] !== 0 || s.values[objects] !== 0);
    assert.equal(live.length, 2, 'the fixture has two live stacks');
    assert.deepEqual(form.samples.map((s) => s.values), live.map((s) => [s.values[objects], s.values[inuse]]));
    assert.ok(form.samples.every((s) => s.labels === 0), 'no per-sample labels');
    assert.equal(pushed.samples, 2);
    // The tables are the original's: same locations, functions and mappings, ids 1..n.
    assert.deepEqual(form.locations, contents(gunzipSync(file)).locations);
    assert.deepEqual(form.mappings, contents(gunzipSync(file)).mappings);
    assert.equal(pprofProblem(Profile.decode(gunzipSync(pushed.gz))), undefined);
  });

  test('the field-level rewrite gives what decoding, filtering and encoding gives', () => {
    const random = mulberry32(7);
    for (let round = 0; round < 200; round++) {
      const live = [0, 1, 2].map(() => (random() < 0.3 ? 0 : Math.floor(random() * 2 ** (1 + random() * 40)))) as [number, number, number];
      const file = heapProfileGz({ sequence: round, timeNanos: BigInt(Math.floor(random() * 2 ** 60)), durationNanos: BigInt(Math.floor(random() * 1e12)), live });
      const raw = gunzipSync(file);
      const plain = rewritePlain(raw);
      const reference = rewriteDecoded(raw);
      assert.deepEqual(contents(plain.bytes), contents(reference.bytes), `round ${round}: ${live}`);
      assert.equal(plain.timeNanos, reference.timeNanos);
      assert.equal(plain.spanNanos, reference.spanNanos);
      assert.equal(plain.samples, reference.samples);
    }
  });

  test('reads an uncompressed profile, and one beyond the field-level pass (values past 2^49) through the reference', async () => {
    const raw = gunzipSync(heapProfileGz());
    assert.deepEqual(contents(gunzipSync((await pushFormOf(raw)).gz)), contents(gunzipSync((await pushFormOf(gzipSync(raw))).gz)));
    const profile = Profile.decode(raw);
    profile.sample[0]!.value = profile.sample[0]!.value.map(() => 2 ** 52);
    assert.throws(() => rewritePlain(profile.encode()), NotPlain);
    const pushed = contents(gunzipSync((await pushFormOf(profile.encode())).gz));
    assert.deepEqual(pushed.samples[0]!.values, [2 ** 52, 2 ** 52]);
  });

  test('a profile of a real run takes the field-level pass (time_nanos past 2^60 and all)', () => {
    const raw = gunzipSync(heapProfileGz({ timeNanos: BigInt(Date.now()) * 1_000_000n }));
    assert.doesNotThrow(() => rewritePlain(raw));
  });

  test('refuses what is no heap profile, in one message', async () => {
    await assert.rejects(pushFormOf(Buffer.from('not a profile at all')), ProfileFormError);
    await assert.rejects(pushFormOf(gzipSync(Buffer.from([0xff, 0xff]))), ProfileFormError);
    const cpu = new Profile({ sampleType: [], stringTable: Profile.decode(gunzipSync(heapProfileGz())).stringTable });
    await assert.rejects(pushFormOf(cpu.encode()), /not a heap profile with in-use values/);
  });
});
