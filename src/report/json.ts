import { stringifyReadable } from '../core/json.js';
import type { RunReport } from '../pipeline/index.js';

/**
 * Sites beyond `top` are left out of the printed JSON only, which then says how many (`sitesLeftOut`); report.json
 * keeps them all.
 */
export function renderJson(report: RunReport, top?: number): string {
  const leftOut = top === undefined ? 0 : Math.max(report.sites.length - top, 0);
  const shown = leftOut === 0 ? report : { ...report, sites: report.sites.slice(0, top), sitesLeftOut: leftOut };
  return `${stringifyReadable(shown)}\n`;
}
