/**
 * Reading any pprof heap profile (ours, Go's, jemalloc's converted with `jeprof --proto`) into a plain structure,
 * so analysis never deals with protobuf ids and string tables.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { ExitCode, LeakhuntError } from '../core/errors.js';

export interface HeapProfileFrame {
  functionName: string;
  fileName?: string;
  line?: number;
  /** The location's address (the call instruction for our profiles); absent for synthetic locations. */
  address?: bigint;
  mappingFile?: string;
}

export interface HeapProfileSample {
  /** Innermost first, inline levels expanded (the inlined callee before the function it was inlined into). */
  stack: HeapProfileFrame[];
  /** In `sampleTypes` order. */
  values: number[];
  /** Sample labels, e.g. our `stack_id`. */
  labels: Record<string, string | number>;
}

export interface HeapProfile {
  sampleTypes: { type: string; unit: string }[];
  timeNanos: bigint;
  durationNanos: bigint;
  /** The sampling period when the profile's period type is in bytes (`space/bytes`). */
  periodBytes?: number;
  defaultSampleType?: string;
  samples: HeapProfileSample[];
}

type Numeric = number | bigint;

/** Position of the values of `type` (e.g. "inuse_space") in each sample, or -1. */
export function sampleValueIndex(profile: HeapProfile, type: string): number {
  return profile.sampleTypes.findIndex((sampleType) => sampleType.type === type);
}

/** Reads a `.pb.gz` or plain `.pb` heap profile. Every failure is a one-line LeakhuntError (exit code 2). */
export function readHeapProfile(path: string): HeapProfile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new LeakhuntError(`${path}: cannot read: ${(error as Error).message}`, ExitCode.usage);
  }
  return decodeHeapProfile(bytes, path);
}

/** `name` is used in error messages only. */
export function decodeHeapProfile(bytes: Uint8Array, name: string): HeapProfile {
  let data = bytes;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      data = gunzipSync(bytes);
    } catch (error) {
      throw new LeakhuntError(`${name}: corrupt gzip data: ${oneLine(error)}`, ExitCode.usage);
    }
  }
  if (Buffer.from(data.subarray(0, 8)).toString('latin1') === 'LKHUNT\r\n') {
    throw new LeakhuntError(`${name}: a raw leakhunt snapshot, not a pprof profile: use the symbolized profiles in its run's snapshots/ directory (NNNN.pb.gz)`, ExitCode.usage);
  }
  let profile: Profile;
  try {
    profile = Profile.decode(data);
  } catch (error) {
    throw new LeakhuntError(`${name}: not a pprof profile: ${oneLine(error)}`, ExitCode.usage);
  }
  try {
    return convert(profile, name);
  } catch (error) {
    if (error instanceof LeakhuntError) throw error;
    throw new LeakhuntError(`${name}: malformed pprof profile: ${oneLine(error)}`, ExitCode.usage);
  }
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/** int64 fields come back from the decoder as unsigned; negative values (diff profiles) need their sign back. */
function toNumber(value: Numeric): number {
  return typeof value === 'bigint' ? Number(BigInt.asIntN(64, value)) : value;
}

function toBigInt(value: Numeric): bigint {
  return BigInt.asUintN(64, BigInt(value));
}

function convert(profile: Profile, name: string): HeapProfile {
  const strings = profile.stringTable.strings;
  const malformed = (why: string): LeakhuntError => new LeakhuntError(`${name}: malformed pprof profile: ${why}`, ExitCode.usage);
  const text = (index: Numeric): string => {
    const value = strings[toNumber(index)];
    if (value === undefined) throw malformed(`string index ${index} out of range`);
    return value;
  };

  const sampleTypes = profile.sampleType.map((t) => ({ type: text(t.type), unit: text(t.unit) }));
  if (!sampleTypes.some((t) => t.type === 'inuse_space')) {
    throw new LeakhuntError(`${name}: not a pprof heap profile (no inuse_space sample type)`, ExitCode.usage);
  }

  const mappings = new Map<number, { file: string; memoryStart: bigint; fileOffset: bigint }>();
  for (const m of profile.mapping) {
    mappings.set(toNumber(m.id), { file: text(m.filename), memoryStart: toBigInt(m.memoryStart), fileOffset: toBigInt(m.fileOffset) });
  }
  const functions = new Map<number, { name: string; fileName: string }>();
  for (const f of profile.function) functions.set(toNumber(f.id), { name: text(f.name), fileName: text(f.filename) });

  const locations = new Map<number, HeapProfileFrame[]>();
  for (const location of profile.location) {
    const mappingId = toNumber(location.mappingId);
    const mapping = mappingId === 0 ? undefined : mappings.get(mappingId);
    if (mappingId !== 0 && !mapping) throw malformed(`location ${location.id} refers to missing mapping ${mappingId}`);
    const address = toBigInt(location.address);
    const common: Pick<HeapProfileFrame, 'address' | 'mappingFile'> = {};
    if (address !== 0n) common.address = address;
    if (mapping?.file) common.mappingFile = mapping.file;
    const frames = location.line.map((line): HeapProfileFrame => {
      const fn = functions.get(toNumber(line.functionId));
      if (!fn) throw malformed(`location ${location.id} refers to missing function ${line.functionId}`);
      const frame: HeapProfileFrame = { functionName: fn.name, ...common };
      if (fn.fileName) frame.fileName = fn.fileName;
      const lineNumber = toNumber(line.line);
      if (lineNumber > 0) frame.line = lineNumber;
      return frame;
    });
    // Unsymbolized locations (Go profiles taken without symbols): name them by object and offset.
    if (frames.length === 0) {
      const functionName = mapping?.file
        ? `${basename(mapping.file)}+0x${(address - mapping.memoryStart + mapping.fileOffset).toString(16)}`
        : `0x${address.toString(16)}`;
      frames.push({ functionName, ...common });
    }
    locations.set(toNumber(location.id), frames);
  }

  const samples = profile.sample.map((sample): HeapProfileSample => {
    if (sample.value.length !== sampleTypes.length) throw malformed(`a sample has ${sample.value.length} values for ${sampleTypes.length} sample types`);
    const stack = sample.locationId.flatMap((id) => {
      const frames = locations.get(toNumber(id));
      if (!frames) throw malformed(`a sample refers to missing location ${id}`);
      return frames;
    });
    const labels: Record<string, string | number> = {};
    for (const label of sample.label) labels[text(label.key)] = toNumber(label.str) !== 0 ? text(label.str) : toNumber(label.num);
    return { stack, values: sample.value.map(toNumber), labels };
  });

  const periodType = profile.periodType ? { type: text(profile.periodType.type), unit: text(profile.periodType.unit) } : undefined;
  const result: HeapProfile = {
    sampleTypes,
    timeNanos: BigInt.asIntN(64, BigInt(profile.timeNanos)),
    durationNanos: BigInt.asIntN(64, BigInt(profile.durationNanos)),
    samples,
  };
  if (periodType?.unit === 'bytes') result.periodBytes = toNumber(profile.period);
  const defaultSampleType = toNumber(profile.defaultSampleType);
  if (defaultSampleType !== 0) result.defaultSampleType = text(defaultSampleType);
  return result;
}
