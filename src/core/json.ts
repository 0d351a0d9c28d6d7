/** How leakhunt writes JSON: readable, and short where a long run's arrays of numbers would take a line each. */
import { randomUUID } from 'node:crypto';

/**
 * JSON indented by two spaces, but an array of numbers on one line: a site's series of hundreds of snapshots
 * would otherwise take a line per number (half of a long run's report.json, and of the time to write it). Such
 * arrays go through JSON.stringify as a marked string, the mark unique to the call, and are unquoted after.
 */
export function stringifyReadable(value: unknown): string {
  const mark = `\u0001${randomUUID()}`;
  const text = JSON.stringify(value, (_key, v: unknown) => (isNumberArray(v) ? `${mark}${JSON.stringify(v).replace(/,/g, ', ')}` : v), 2);
  return text.replaceAll(new RegExp(String.raw`"\\u0001${mark.slice(1)}([^"]*)"`, 'g'), '$1');
}

function isNumberArray(v: unknown): v is (number | null)[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' || x === null);
}
