/**
 * The limits of the shim's numeric settings (LEAKHUNT_*), read from native/limits.json: the one table both halves
 * use. scripts/build-native.mjs writes the shim's header (native/build/limits.h) from the same file, so an option the
 * CLI accepts is one the shim accepts — instead of the shim switching itself off in the target with a line on its
 * stderr — and the CLI refuses the rest with one line and exit 2 before anything runs.
 *
 * JSON rather than a header TypeScript would parse: both sides read it without a C parser, the build turns it into
 * C once, and the CLI reads it from the package at run time (a JSON import would need an experimental Node flag).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ExitCode, LeakhuntError, usageError } from './errors.js';

export type ShimSetting =
  | 'LEAKHUNT_SAMPLE_BYTES'
  | 'LEAKHUNT_INTERVAL_MS'
  | 'LEAKHUNT_TABLE_CAPACITY'
  | 'LEAKHUNT_MAX_STACKS'
  | 'LEAKHUNT_MAX_SNAPSHOTS'
  | 'LEAKHUNT_STACK_DEPTH';

export interface ShimLimit {
  /** The `leakhunt run` option that sets it. */
  option: string;
  min: number;
  max: number;
  /** What the shim uses when the variable is unset. */
  default: number;
  /** 0 is accepted besides min..max, meaning `zeroMeans`. */
  zeroAllowed: boolean;
  zeroMeans?: string;
}

/** native/limits.json of this package (dist/src/core/ → package root). */
export function limitsPath(): string {
  return fileURLToPath(new URL('../../../native/limits.json', import.meta.url));
}

let table: Map<string, ShimLimit> | undefined;

function readTable(): Map<string, ShimLimit> {
  if (table) return table;
  let parsed: { limits?: Record<string, Partial<ShimLimit>> };
  try {
    parsed = JSON.parse(readFileSync(limitsPath(), 'utf8')) as typeof parsed;
  } catch (error) {
    throw new LeakhuntError(`cannot read the shim's limits (${limitsPath()}): ${(error as Error).message}: reinstall leakhunt`, ExitCode.environment);
  }
  table = new Map(Object.entries(parsed.limits ?? {}).map(([name, limit]) => [name, { zeroAllowed: false, ...limit } as ShimLimit]));
  return table;
}

export function shimLimit(name: ShimSetting): ShimLimit {
  const limit = readTable().get(name);
  if (!limit) throw new LeakhuntError(`native/limits.json has no ${name}: reinstall leakhunt`, ExitCode.environment);
  return limit;
}

/** Every setting in the table, by variable name. */
export function shimLimits(): ReadonlyMap<string, ShimLimit> {
  return readTable();
}

/** A value as the option is typed: durations and sizes in the largest unit that divides them. */
function shown(name: ShimSetting, value: number): string {
  const units: [string, number][] = name === 'LEAKHUNT_INTERVAL_MS' ? [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]]
    : name === 'LEAKHUNT_SAMPLE_BYTES' ? [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024], ['', 1]] : [['', 1]];
  const [unit, size] = units.find(([, s]) => value % s === 0 && value >= s) ?? ['', 1];
  return `${value / size}${unit}`;
}

/** "from 4 to 256", "0 (keep all) or from 8 to 1000000". */
export function describeLimit(name: ShimSetting): string {
  const limit = shimLimit(name);
  const range = `from ${shown(name, limit.min)} to ${shown(name, limit.max)}`;
  return limit.zeroAllowed ? `0 (${limit.zeroMeans ?? 'off'}) or ${range}` : range;
}

/** `value` when the shim accepts it for `name`; otherwise a usage error (exit 2) naming the option and its range. */
export function checkLimit(name: ShimSetting, value: number): number {
  const limit = shimLimit(name);
  const inRange = Number.isSafeInteger(value) && ((value >= limit.min && value <= limit.max) || (limit.zeroAllowed && value === 0));
  if (!inRange) throw usageError(`${limit.option} must be ${describeLimit(name)}`);
  return value;
}

/** Digits only, as the shim parses its variables: "0x10", "1e3", "" and " 8" are not whole numbers. */
export function parseWholeNumber(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw usageError(`${option}: "${text}" is not a whole number`);
  return Number(text);
}
