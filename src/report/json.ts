import { stringifyReadable } from '../core/json.js';
import type { RunReport } from '../pipeline/index.js';

/** Sites beyond `top` are left out of the printed JSON only; report.json keeps them all. */
export function renderJson(report: RunReport, top?: number): string {
  const shown = top === undefined ? report : { ...report, sites: report.sites.slice(0, top) };
  return `${stringifyReadable(shown)}\n`;
}
