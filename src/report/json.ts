import type { RunReport } from './model.js';

/** Sites beyond `top` are left out of the printed JSON only; report.json keeps them all. */
export function renderJson(report: RunReport, top?: number): string {
  const shown = top === undefined ? report : { ...report, sites: report.sites.slice(0, top) };
  return `${stringifyReadable(shown)}\n`;
}

const NUMBER = String.raw`(?:-?\d[\d.eE+-]*|null)`;
const NUMBER_ARRAY = new RegExp(String.raw`\[\n\s+(${NUMBER}(?:,\n\s+${NUMBER})*)\n\s*\]`, 'g');

/**
 * JSON indented by two spaces, but an array of numbers on one line: a site's series of hundreds of snapshots
 * would otherwise take a line per number (half of a long run's report.json, and of the time to write it).
 */
export function stringifyReadable(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(NUMBER_ARRAY, (_, body: string) => `[${body.replace(/,\n\s+/g, ', ')}]`);
}
