/** `leakhunt diff` output: a totals line and the sites ranked by retained growth, as text or JSON. */
import { Chalk, type ChalkInstance } from 'chalk';
import { abbreviateTemplates, siteKindTag, type DiffStatus, type ProfileDiff } from '../analyse/index.js';
import { formatBytes } from '../core/units.js';

export interface DiffRenderOptions {
  /** The two profiles' paths, as the user gave them. */
  basePath: string;
  laterPath: string;
  /** Sites shown (default 10). */
  top?: number;
  /** Frames shown per stack in text (default 12). */
  stackFrames?: number;
  color?: boolean;
  /** Named in the totals line when --focus or --ignore left samples out. */
  filtered?: boolean;
}

function statusPainter(chalk: ChalkInstance): Record<DiffStatus, (s: string) => string> {
  return { grew: chalk.red.bold, shrank: chalk.green, new: chalk.blue, gone: chalk.gray, same: chalk.dim };
}

function signedBytes(bytes: number): string {
  return `${bytes > 0 ? '+' : ''}${formatBytes(bytes)}`;
}

export function renderDiffText(diff: ProfileDiff, options: DiffRenderOptions): string {
  const chalk = new Chalk({ level: options.color ? 1 : 0 });
  const paint = statusPainter(chalk);
  const top = options.top ?? 10;
  const frames = options.stackFrames ?? 12;
  const t = diff.totals;
  const deltaColor = t.deltaBytes > 0 ? chalk.red.bold : t.deltaBytes < 0 ? chalk.green.bold : chalk.bold;
  const lines = [
    `${chalk.bold('in use')}: base ${formatBytes(t.baseBytes)} → later ${formatBytes(t.laterBytes)}, `
    + `delta ${deltaColor(signedBytes(t.deltaBytes))}${options.filtered ? ' (stacks matching --focus/--ignore only)' : ''}`,
    chalk.dim(`  base:  ${options.basePath}`),
    chalk.dim(`  later: ${options.laterPath}`),
  ];
  const shown = diff.sites.slice(0, top);
  if (shown.length === 0) {
    lines.push('', '  no live allocations in either profile');
    return `${lines.join('\n')}\n`;
  }
  lines.push('', chalk.bold(`${'#'.padStart(3)} ${'status'.padEnd(6)} ${'delta'.padStart(12)} ${'base'.padStart(11)} ${'later'.padStart(11)}  site`));
  shown.forEach((site, i) => {
    lines.push([
      String(i + 1).padStart(3),
      paint[site.status](site.status.padEnd(6)),
      signedBytes(site.deltaBytes).padStart(12),
      formatBytes(site.baseBytes).padStart(11),
      formatBytes(site.laterBytes).padStart(11),
      ` ${abbreviateTemplates(site.location)}${siteKindTag(site.kind)}`,
    ].join(' '));
  });
  const explained = shown.map((site, i) => ({ site, rank: i + 1 }))
    .filter(({ site }) => site.status === 'grew' || site.status === 'new').slice(0, 3);
  for (const { site, rank } of explained) {
    lines.push('', `${paint[site.status](`#${rank} ${abbreviateTemplates(site.function)}${siteKindTag(site.kind)}`)} — stack, innermost first:`);
    for (const frame of site.stack.slice(0, frames)) lines.push(`    ${abbreviateTemplates(frame)}`);
    if (site.stack.length > frames) lines.push(chalk.dim(`    … ${site.stack.length - frames} more frames (--json has them all)`));
  }
  if (diff.sites.length > shown.length) lines.push('', chalk.dim(`  ${diff.sites.length - shown.length} more sites (--top)`));
  return `${lines.join('\n')}\n`;
}

/** `{ base, later, totals, sites }`; sites beyond `top` are left out. */
export function renderDiffJson(diff: ProfileDiff, options: Pick<DiffRenderOptions, 'basePath' | 'laterPath' | 'top'>): string {
  const document = {
    base: options.basePath,
    later: options.laterPath,
    totals: diff.totals,
    sites: options.top === undefined ? diff.sites : diff.sites.slice(0, options.top),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
