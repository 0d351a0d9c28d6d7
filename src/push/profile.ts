/**
 * A run's profile (snapshots/NNNN.pb.gz) in the form a backend stores as a gauge: the live heap only.
 *
 *  - Only inuse_objects and inuse_space are sent. A live heap is a gauge: each profile stands for the whole heap at
 *    its time_nanos, not for what happened since the one before. Pyroscope computes deltas of alloc_objects and
 *    alloc_space of "memory" profiles unless the series is labelled __delta__="false" (grafana/pyroscope
 *    pkg/phlaredb/delta.go isDeltaSupported, pkg/phlaredb/head.go Ingest), and its newer segment writer computes
 *    none at all (pkg/segmentwriter/memdb/head.go: "Delta not supported"); our alloc_* columns are whole-run totals of
 *    the live stacks only, which no backend could sum or difference into anything true. inuse_* never goes through
 *    a delta in either store.
 *  - duration_nanos is 0. Parca names a profile type `name:sample_type:unit:period_type:period_unit` and appends
 *    `:delta` when the duration is not 0 (parca-dev/parca pkg/profilestore/profilecolumnstore.go
 *    getProfileTypeString), which would make a gauge look like a rate.
 *  - Samples with nothing in use are left out (Parca drops zero values anyway: pkg/normalizer/normalizer.go
 *    NormalizePprof), and so are the samples' numeric labels (stack ids and block ages, leakhunt's own: a backend
 *    would keep them as per-sample labels for nothing).
 * Everything else — mappings, locations, functions, strings, time_nanos, period — is copied as it is, so the ids
 * stay the sequential 1…n both servers check (Parca pkg/normalizer/validate.go ValidatePprofProfile).
 *
 * The profile is rewritten at the protobuf field level (our own profiles are plain: no groups, no 64-bit fixed
 * fields, values below 2^49); anything else goes through pprof-format's decoder and encoder.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { Profile, ValueType } from 'pprof-format';
import { Bytes, NotPlain, Wire } from '../pprof/protobuf.js';

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

/** The sample types a pushed profile keeps, in this order. */
export const PUSHED_SAMPLE_TYPES = ['inuse_objects', 'inuse_space'] as const;

export interface PushProfile {
  /** The profile to send, gzip-compressed (both servers detect gzip by its magic bytes). */
  gz: Buffer;
  /** When the snapshot was taken. */
  timeNanos: bigint;
  /** The time since the snapshot before (the on-disk profile's duration_nanos, before it was set to 0). */
  spanNanos: bigint;
  samples: number;
}

export class ProfileFormError extends Error {}

/** The push form of a profile file's bytes (gzip-compressed or not); a ProfileFormError when they are no heap profile. */
export async function pushFormOf(fileBytes: Uint8Array): Promise<PushProfile> {
  let rewritten: Rewritten;
  try {
    const raw = fileBytes[0] === 0x1f && fileBytes[1] === 0x8b ? await gunzipAsync(fileBytes) : fileBytes;
    try {
      rewritten = rewritePlain(raw);
    } catch (error) {
      if (!(error instanceof NotPlain)) throw error;
      rewritten = rewriteDecoded(raw);
    }
  } catch (error) {
    throw error instanceof ProfileFormError ? error : new ProfileFormError(`not a readable profile: ${(error as Error).message}`);
  }
  return { gz: await gzipAsync(rewritten.bytes, { level: 6 }), timeNanos: rewritten.timeNanos, spanNanos: rewritten.spanNanos, samples: rewritten.samples };
}

export interface Rewritten {
  bytes: Uint8Array;
  timeNanos: bigint;
  spanNanos: bigint;
  samples: number;
}

// Profile fields (github.com/google/pprof proto/profile.proto).
const SAMPLE_TYPE = 1;
const SAMPLE = 2;
const STRING_TABLE = 6;
const TIME_NANOS = 9;
const DURATION_NANOS = 10;
const DEFAULT_SAMPLE_TYPE = 14;

/** Which sample type columns to keep: those of PUSHED_SAMPLE_TYPES, in its order. */
function keptColumns(types: readonly { type: string }[]): number[] {
  const columns = PUSHED_SAMPLE_TYPES.map((name) => types.findIndex((t) => t.type === name));
  if (columns.some((c) => c < 0)) {
    throw new ProfileFormError(`not a heap profile with in-use values (sample types: ${types.map((t) => t.type).join(', ') || 'none'})`);
  }
  return columns;
}

/** The rewrite at the field level: one pass to find the sample types' names, one to write. (Exported for the tests.) */
export function rewritePlain(buf: Uint8Array): Rewritten {
  const strings: [number, number][] = [];
  const typeIds: { type: number; unit: number; start: number; end: number }[] = [];
  let timeNanos = 0n;
  let spanNanos = 0n;
  for (const wire = new Wire(buf, 0, buf.length); wire.more;) {
    const key = wire.varint();
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    const start = wire.at;
    if (field === STRING_TABLE && wireType === 2) strings.push(wire.bytes());
    else if (field === SAMPLE_TYPE && wireType === 2) typeIds.push(valueTypeAt(wire, start));
    else if (field === TIME_NANOS && wireType === 0) timeNanos = wire.bigVarint();
    else if (field === DURATION_NANOS && wireType === 0) spanNanos = wire.bigVarint();
    else skipField(wire, wireType);
  }
  const text = (index: number) => {
    const range = strings[index];
    return range ? Buffer.from(buf.buffer, buf.byteOffset + range[0], range[1] - range[0]).toString('utf8') : '';
  };
  const types = typeIds.map((t) => ({ type: text(t.type) }));
  const columns = keptColumns(types);
  const inuseSpaceType = typeIds[columns[1]!]!.type;

  const out = new Bytes(buf.length + 64);
  const sample = new Bytes(256);
  let samples = 0;
  for (const wire = new Wire(buf, 0, buf.length); wire.more;) {
    const fieldStart = wire.at;
    const key = wire.varint();
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if (field === SAMPLE_TYPE && wireType === 2) {
      const [, end] = wire.bytes();
      const index = typeIds.findIndex((t) => t.end === end);
      if (columns.includes(index)) out.append(buf.subarray(fieldStart, end));
    } else if (field === SAMPLE && wireType === 2) {
      if (rewriteSample(wire, columns, sample.clear())) {
        out.message(0x12, sample);
        samples++;
      }
    } else if (field === DURATION_NANOS || field === DEFAULT_SAMPLE_TYPE) {
      skipField(wire, wireType);
    } else {
      skipField(wire, wireType);
      out.append(buf.subarray(fieldStart, wire.at));
    }
  }
  out.field((DEFAULT_SAMPLE_TYPE << 3) | 0, inuseSpaceType);
  return { bytes: out.view(), timeNanos, spanNanos, samples };
}

/** Past a field of any value: varints of all 64 bits (time_nanos is past 2^60), or length-delimited. */
function skipField(wire: Wire, wireType: number): void {
  if (wireType === 0) wire.bigVarint();
  else wire.skip(wireType);
}

/** Reads a ValueType message at the wire's position (its length varint): its type and unit string indexes. */
function valueTypeAt(wire: Wire, start: number): { type: number; unit: number; start: number; end: number } {
  const end = wire.open();
  let type = 0;
  let unit = 0;
  const outer = wire.end;
  wire.end = end;
  while (wire.more) {
    const key = wire.varint();
    if (key === 0x08) type = wire.varint();
    else if (key === 0x10) unit = wire.varint();
    else wire.skip(key & 7);
  }
  wire.end = outer;
  wire.at = end;
  return { type, unit, start, end };
}

/** Writes the sample at the wire's position with only `columns` and no labels; false when all its kept values are 0. */
function rewriteSample(wire: Wire, columns: readonly number[], into: Bytes): boolean {
  const end = wire.open();
  const outer = wire.end;
  wire.end = end;
  const locations: number[] = [];
  const values: number[] = [];
  while (wire.more) {
    const key = wire.varint();
    const field = Math.floor(key / 8);
    if (field === 1) wire.numbers(key & 7, locations);
    else if (field === 2) wire.numbers(key & 7, values);
    else wire.skip(key & 7);
  }
  wire.end = outer;
  wire.at = end;
  const kept = columns.map((c) => values[c] ?? 0);
  if (kept.every((v) => v === 0)) return false;
  packed(into, 0x0a, locations);
  packed(into, 0x12, kept);
  return true;
}

function packed(into: Bytes, tag: number, values: readonly number[]): void {
  if (values.length === 0) return;
  const inner = new Bytes(values.length * 3 + 8);
  for (const v of values) inner.varint(v);
  into.message(tag, inner);
}

/**
 * The same rewrite through pprof-format's decoder and encoder, for profiles the field-level pass does not handle (and
 * the reference the tests hold it to).
 */
export function rewriteDecoded(buf: Uint8Array): Rewritten {
  const profile = Profile.decode(buf);
  const strings = profile.stringTable.strings;
  const types = profile.sampleType.map((t) => ({ type: strings[Number(t.type)] ?? '' }));
  const columns = keptColumns(types);
  const spanNanos = BigInt(profile.durationNanos);
  profile.sampleType = columns.map((c) => new ValueType(profile.sampleType[c]!));
  profile.sample = profile.sample.flatMap((s) => {
    const kept = columns.map((c) => s.value[c] ?? 0);
    if (kept.every((v) => Number(v) === 0)) return [];
    s.value = kept;
    s.label = [];
    return [s];
  });
  profile.durationNanos = 0;
  profile.defaultSampleType = profile.sampleType[1]!.type;
  return { bytes: profile.encode(), timeNanos: BigInt(profile.timeNanos), spanNanos, samples: profile.sample.length };
}
