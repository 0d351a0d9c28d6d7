/** The terminal report: the verdict first, then the ranked sites and the stacks of the top ones. */
import { Chalk, type ChalkInstance } from 'chalk';
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import { abbreviateTemplates, siteKindTag, type SiteReport, type SiteStatus } from '../analyse/index.js';
import { partLabel, sampleBytesInForce, trackingSinceSentence, windowSentence, type MemoryReport, type PushReport, type RunReport } from '../pipeline/index.js';

export interface TextOptions {
  top?: number;
  /** Frames shown per stack. */
  stackFrames?: number;
  color?: boolean;
}

/** Colour only on a TTY and never when NO_COLOR is set (https://no-color.org). */
export function colorWanted(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
}

function statusPainter(chalk: ChalkInstance): Record<SiteStatus, (s: string) => string> {
  return { growing: chalk.red.bold, new: chalk.blue, shrinking: chalk.green, stable: chalk.dim, gone: chalk.gray };
}

const verdictTitle: Record<string, string> = {
  'native-leak': 'NATIVE LEAK', fragmentation: 'FRAGMENTATION', 'java-heap': 'JAVA HEAP GROWTH',
  'jvm-internal': 'JVM-INTERNAL GROWTH', 'no-growth': 'NO GROWTH', inconclusive: 'INCONCLUSIVE',
};

function signedBytes(bytes: number): string {
  return `${bytes > 0 ? '+' : ''}${formatBytes(bytes)}`;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

const SPARK_WIDTH = 14;
const sparkBlocks = '▁▂▃▄▅▆▇█';

/**
 * Values as a one-line bar chart (▁▂▃▄▅▆▇█) from 0 to their maximum, so a flat line is a stable site and a ramp a
 * growing one; more values than `width` are averaged in equal buckets.
 */
export function sparkline(values: readonly number[], width = SPARK_WIDTH): string {
  if (values.length === 0) return '';
  const buckets = Math.min(width, values.length);
  const points: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * values.length) / buckets);
    const to = Math.max(from + 1, Math.floor(((b + 1) * values.length) / buckets));
    let sum = 0;
    for (let i = from; i < to; i++) sum += Math.max(0, values[i] ?? 0);
    points.push(sum / (to - from));
  }
  const max = Math.max(...points);
  if (!(max > 0)) return sparkBlocks[0]!.repeat(buckets);
  return points.map((v) => sparkBlocks[Math.min(7, Math.round((v / max) * 7))]).join('');
}

function siteRow(site: SiteReport, paint: Record<SiteStatus, (s: string) => string>): string {
  return [
    pad(String(site.rank), 3, true),
    // A cache that filled and stopped is "stable" in report.json; say what kind of stable it is.
    paint[site.status](pad(site.status === 'stable' && site.shape === 'saturating' ? 'plateau' : site.status, 9)),
    pad(formatRate(site.leakRateBytesPerHour), 14, true),
    pad(signedBytes(site.growthBytes), 12, true),
    pad(formatBytes(site.liveBytes), 11, true),
    pad(site.confidence.toFixed(2), 5, true),
    ` ${pad(sparkline(site.series), SPARK_WIDTH)}`,
    ` ${abbreviateTemplates(site.location)}${siteKindTag(site.kind)}`,
  ].join(' ');
}

/** The parts' labels; `other` and a committed Java heap are how reports before resident accounting named theirs. */
const accountingLabel: Record<string, string> = { ...partLabel, other: 'other (mmap, stacks, code)' };

/**
 * "21 snapshots", or "21 snapshots (of 80 written; retention thinned the middle)" when some were deleted, and
 * "(of 23 written; 2 damaged, left out)" when some could not be read.
 */
export function snapshotCount(report: Pick<RunReport, 'snapshots' | 'snapshotsWritten' | 'snapshotsDamaged'>): string {
  const written = report.snapshotsWritten;
  const damaged = report.snapshotsDamaged ?? 0;
  if (written === undefined || written <= report.snapshots) return `${report.snapshots} snapshots`;
  const why = [
    ...(damaged > 0 ? [`${damaged} damaged, left out`] : []),
    ...(written - damaged > report.snapshots ? ['retention thinned the middle'] : []),
  ];
  return `${report.snapshots} snapshots (of ${written} written; ${why.join('; ')})`;
}

/**
 * report.json's push in words: "28 of 30 profiles pushed to pyroscope at URL, 3 retried, 2 left in the run directory
 * (…)", with what retention deleted first and why pushing stopped, when it did.
 */
export function pushSummary(push: PushReport): string {
  const total = push.pushed + push.left;
  let text = `${push.pushed} of ${total} profile${total === 1 ? '' : 's'} pushed to ${push.backend} at ${push.endpoint}, ${push.retried} retried, `
    + `${push.left} left`;
  if (push.left > 0) {
    const to = push.backend === 'pyroscope' ? '' : ` --push-to ${push.backend}`;
    text += ` in the run directory${push.rejected > 0 ? ` (${push.rejected} refused)` : ''}: send them with leakhunt push <run directory> ${push.endpoint}${to}`;
  }
  if (push.thinned > 0) text += `; ${push.thinned} deleted by retention before they were sent`;
  if (push.stopped !== undefined) text += `; pushing stopped: ${push.stopped}`;
  return text;
}

/** A part's label in the accounting tables; an unknown part (a damaged report) as itself, as text. */
export function accountingPartLabel(part: unknown): string {
  return typeof part === 'string' && Object.hasOwn(accountingLabel, part) ? accountingLabel[part]! : String(part);
}

/** The mapped files under the file-mapped row: the largest at the end of the window. */
function mappedFileLines(m: MemoryReport, row: (label: string, start: number, end: number, rate: number | undefined) => string): string[] {
  return (m.mappedFiles ?? []).filter((f) => f.endBytes > 0).map((f) => {
    const name = f.path.length > 26 ? `…${f.path.slice(-25)}` : f.path;
    return row(`  ${name}`, f.startBytes, f.endBytes, undefined);
  });
}

/** "Where the RSS went": the accounting table, RSS last; the trim probe's result under it. */
export function accountingLines(m: MemoryReport): string[] {
  if (!m.accounting || m.accounting.length === 0) return [];
  const w = m.accountingWindow;
  const lines = [`  where the RSS went${w ? ` (${w.snapshots} snapshots, ${w.fromSec.toFixed(1)}s → ${w.toSec.toFixed(1)}s)` : ''}`
    + `${m.allocator ? `, allocator ${m.allocator}` : ''}:`];
  const row = (label: string, start: number, end: number, rate: number | undefined) => `    ${pad(label, 28)}${pad(formatBytes(start), 11, true)}`
    + `${pad(formatBytes(end), 11, true)}${pad(signedBytes(end - start), 12, true)}${rate === undefined ? '' : pad(formatRate(rate), 15, true)}`;
  lines.push(`    ${pad('part', 28)}${pad('start', 11, true)}${pad('end', 11, true)}${pad('growth', 12, true)}${pad('rate', 15, true)}`);
  let start = 0;
  let end = 0;
  let rate = 0;
  for (const r of m.accounting) {
    lines.push(row(accountingPartLabel(r.part), r.startBytes, r.endBytes, r.growthBytesPerHour));
    if (r.part === 'file-mapped') lines.push(...mappedFileLines(m, row));
    start += r.startBytes;
    end += r.endBytes;
    rate += r.growthBytesPerHour;
  }
  lines.push(row('RSS', start, end, rate));
  for (const note of m.accountingNotes ?? []) lines.push(`    note: ${note}`);
  const t = m.trimProbe;
  if (t) lines.push(`  trim probe${t.timeSec === undefined ? '' : ` at ${t.timeSec.toFixed(1)}s`}: malloc_trim(0) gave back ${formatBytes(t.releasedBytes)} (RSS ${formatBytes(t.rssBeforeBytes)} → ${formatBytes(t.rssAfterBytes)})`);
  return lines;
}

/**
 * Stable sites that rose by more than sampling can do by chance, but whose blocks turned over more than that (README
 * "Growth"): said, so a rate in the table that is no leak does not go unexplained. At most three.
 */
function wanderingLines(sites: readonly RunReport['sites'][number][], sampleBytes: number): string[] {
  return sites
    .filter((site) => site.status === 'stable' && site.turnover && site.growthBytes > 2 * sampleBytes && site.turnover.diedBytes >= site.growthBytes)
    .slice(0, 3)
    .map((site) => `  #${site.rank} ${abbreviateTemplates(site.function)}: ${formatBytes(site.turnover!.bornBytes)} born and ${formatBytes(site.turnover!.diedBytes)} `
      + 'died in the window; its blocks are replaced, and its live bytes wander with them: not growth at this confidence');
}

export function renderText(report: RunReport, options: TextOptions = {}): string {
  const chalk = new Chalk({ level: options.color ? 1 : 0 });
  const paint = statusPainter(chalk);
  const top = options.top ?? 10;
  const frames = options.stackFrames ?? 12;
  const lines: string[] = [];
  const verdictColor = report.verdict.kind === 'native-leak' ? chalk.red.bold
    : report.verdict.kind === 'no-growth' ? chalk.green.bold : chalk.yellow.bold;
  lines.push(`${verdictColor(verdictTitle[report.verdict.kind] ?? report.verdict.kind)}: ${report.verdict.summary}`);
  const m = report.memory;
  lines.push(chalk.dim(`  run: ${report.command.join(' ')} (pid ${report.pid}), ${formatDurationMs(report.durationSec * 1000)}, `
    + `${snapshotCount(report)}, sampling every ${formatBytes(sampleBytesInForce(report))}`
    + (report.exitStatus === null ? '' : `, exit status ${report.exitStatus}`)));
  if (report.trackingSince) lines.push(chalk.dim(`  ${trackingSinceSentence(report.trackingSince)}`));
  const window = windowSentence(m.window);
  lines.push(chalk.dim(`  RSS ${formatBytes(m.rssStartBytes)} → ${formatBytes(m.rssEndBytes)} (${formatRate(m.rssGrowthBytesPerHour)}), `
    + `live malloc ${formatBytes(m.liveStartBytes)} → ${formatBytes(m.liveEndBytes)} (${formatRate(m.liveGrowthBytesPerHour)})${window ? `, ${window}` : ''}`));
  lines.push(...accountingLines(m).map((line) => chalk.dim(line)));
  const remedies = report.verdict.remedies ?? [];
  if (remedies.length > 0) lines.push('  what to do:', ...remedies.map((r) => `    → ${r}`));
  const detectable = report.detection?.detectableRateBytesPerHour;
  if (detectable != null) lines.push(chalk.dim(`  this run could detect leaks from ${formatRate(detectable)} up (in a call site of their own); run longer or lower --sample-bytes to see slower ones`));
  if (report.push) lines.push((report.push.left > 0 ? chalk.yellow : chalk.dim)(`  push: ${pushSummary(report.push)}`));
  for (const warning of report.warnings) lines.push(chalk.yellow(`  warning: ${warning}`));
  const shown = report.sites.slice(0, top);
  if (shown.length === 0) {
    lines.push('', '  no sampled live allocations');
    return `${lines.join('\n')}\n`;
  }
  lines.push('', chalk.bold(`${pad('#', 3, true)} ${pad('status', 9)} ${pad('rate', 14, true)} ${pad('growth', 12, true)} ${pad('live', 11, true)} ${pad('conf', 5, true)}  ${pad('live over time', SPARK_WIDTH)}  site`));
  for (const site of shown) lines.push(siteRow(site, paint));
  lines.push(...wanderingLines(shown, sampleBytesInForce(report)).map((line) => chalk.dim(line)));
  const explained = shown.filter((s) => s.status === 'growing' || s.status === 'new').slice(0, 3);
  for (const site of explained) {
    lines.push('', `${paint[site.status](`#${site.rank} ${abbreviateTemplates(site.function)}${siteKindTag(site.kind)}`)} — stack, innermost first:`);
    const blocks = site.blocks;
    if (blocks?.sizeCarriesGrowth) {
      lines.push(chalk.dim(`    (a growing container: about ${Math.max(1, Math.round(blocks.countEnd))} live block(s), each replaced by a bigger one — `
        + `${formatBytes(blocks.meanBytesStart)} → ${formatBytes(blocks.meanBytesEnd)} on average)`));
    }
    for (const frame of site.stack.slice(0, frames)) lines.push(`    ${abbreviateTemplates(frame)}`);
    if (site.stack.length > frames) lines.push(chalk.dim(`    … ${site.stack.length - frames} more frames (report.json has them all)`));
  }
  if (report.sites.length > shown.length) lines.push('', chalk.dim(`  ${report.sites.length - shown.length} more sites in report.json`));
  for (const child of report.processes ?? []) {
    const top = child.sites.find((s) => s.status === 'growing') ?? child.sites[0];
    lines.push('', `${chalk.bold(`child ${child.pid}`)} ${child.executable}: ${verdictTitle[child.verdict.kind] ?? child.verdict.kind}, ${child.snapshots} snapshots`
      + (top ? `; top site ${abbreviateTemplates(top.location)}${siteKindTag(top.kind)} (${top.status}, ${formatRate(top.leakRateBytesPerHour)})` : '')
      + chalk.dim(` — ${child.report}`));
  }
  return `${lines.join('\n')}\n`;
}
