/** Parsing and printing of the units users type and read: byte sizes, durations, rates. */
import { usageError } from './errors.js';

const byteUnits: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
};

/** "512KiB", "1MiB", "4096", "1.5G" → bytes. Bare k/m/g are binary, as in most memory tools. */
export function parseBytes(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? byteUnits[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw usageError(`bad ${what} "${text}": expected a number with an optional unit (B, KiB, MiB, GiB)`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw usageError(`bad ${what} "${text}": too large`);
  return bytes;
}

const durationUnits: Record<string, number> = {
  ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000,
};

/** "10s", "500ms", "10m", "1h30m" → milliseconds. A bare number is seconds. */
export function parseDurationMs(text: string, what = 'duration'): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const part = /(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(trimmed); m; m = part.exec(trimmed)) {
    total += Number(m[1]) * durationUnits[m[2]!]!;
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw usageError(`bad ${what} "${text}": expected e.g. 500ms, 10s, 5m, 1h`);
  }
  return Math.round(total);
}

/** "1MiB/h", "512KiB/s", "10MB/day" → bytes per hour. */
export function parseRateBytesPerHour(text: string, what = 'rate'): number {
  const m = /^\s*(.+?)\s*\/\s*(s|sec|m|min|h|hour|d|day)\s*$/.exec(text);
  if (!m) throw usageError(`bad ${what} "${text}": expected a size per time, e.g. 1MiB/h`);
  const perHour: Record<string, number> = { s: 3600, sec: 3600, m: 60, min: 60, h: 1, hour: 1, d: 1 / 24, day: 1 / 24 };
  return parseBytes(m[1]!, what) * perHour[m[2]!]!;
}

/**
 * Bytes in binary units with three significant digits: "1.50 MiB", "512 B", "-3.2 KiB"; from 1000 to 1023 of a unit
 * as a whole number of it ("1012 MiB", as people read it, not "0.988 GiB").
 */
export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Math.abs(bytes);
  if (value < 1024) return `${sign}${Math.round(value)} B`;
  let i = 0;
  // Round first, then pick the unit: 1048575 B is "1.00 MiB", not "1024 KiB".
  for (;;) {
    value /= 1024;
    i++;
    const rounded = value >= 1000 ? Math.round(value) : Number(value.toPrecision(3));
    if (rounded >= 1024 && i < units.length - 1) continue;
    const digits = rounded >= 100 ? 0 : rounded >= 10 ? 1 : rounded >= 1 ? 2 : 3;
    return `${sign}${rounded.toFixed(digits)} ${units[i]}`;
  }
}

/** A rate as people read it: "988 MiB/h", "1012 MiB/h", "5.71 GiB/h" — never "0.988 GiB/h". */
export function formatRate(bytesPerHour: number): string {
  return `${formatBytes(bytesPerHour)}/h`;
}

export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = s / 60;
  if (m < 120) return `${m.toFixed(1)}min`;
  return `${(m / 60).toFixed(1)}h`;
}
