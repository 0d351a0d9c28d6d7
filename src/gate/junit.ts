/** The gate's verdict as JUnit XML: one failing testcase per site over the threshold, for CI test reporters. */
import { siteKindTag } from '../analyse/index.js';
import { formatBytes, formatRate } from '../core/units.js';
import { adviceTexts, formatDetectable, gateVerdict, problemTexts } from './wording.js';
import type { GateResult } from './types.js';

/** Text content: XML's five entities, and characters XML 1.0 cannot hold replaced by U+FFFD. */
export function xmlText(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Attribute values: as text, with line breaks and tabs kept as character references. */
export function xmlAttribute(text: string): string {
  return xmlText(text).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

interface TestCase {
  classname: string;
  name: string;
  failure?: { type: string; message: string; body: string };
  error?: { type: string; message: string; body: string };
  skipped?: string;
  systemOut?: string;
}

function renderCase(c: TestCase): string {
  const open = `    <testcase classname="${xmlAttribute(c.classname)}" name="${xmlAttribute(c.name)}" time="0"`;
  const inner: string[] = [];
  for (const [tag, item] of [['failure', c.failure], ['error', c.error]] as const) {
    if (item) inner.push(`      <${tag} type="${xmlAttribute(item.type)}" message="${xmlAttribute(item.message)}">${xmlText(item.body)}</${tag}>`);
  }
  if (c.skipped !== undefined) inner.push(`      <skipped message="${xmlAttribute(c.skipped)}"/>`);
  if (c.systemOut !== undefined) inner.push(`      <system-out>${xmlText(c.systemOut)}</system-out>`);
  return inner.length === 0 ? `${open}/>` : `${open}>\n${inner.join('\n')}\n    </testcase>`;
}

export function renderJunit(result: GateResult): string {
  const t = result.thresholds;
  const max = formatRate(t.maxLeakRateBytesPerHour);
  const cases: TestCase[] = [];
  for (const site of result.failing) {
    cases.push({
      classname: 'leakhunt.gate.leak', name: `${site.location}${siteKindTag(site.kind)}`,
      failure: {
        type: 'native-leak',
        message: `${site.function}${siteKindTag(site.kind)} leaks ${formatRate(site.leakRateBytesPerHour)}, over the ${max} threshold (confidence ${site.confidence.toFixed(2)}, ${formatBytes(site.growthBytes)} over the run, ${formatBytes(site.liveBytes)} live at the end)`,
        body: `stack, innermost first:\n${site.stack.map((frame) => `  ${frame}`).join('\n')}\n`,
      },
    });
  }
  if (result.failing.length === 0) {
    const name = `no call site leaks over ${max}`;
    cases.push(result.detection.enough
      ? { classname: 'leakhunt.gate.leak', name, systemOut: `this run shows leaks from ${formatDetectable(result.detection.rateBytesPerHour)}` }
      : { classname: 'leakhunt.gate.leak', name, error: { type: 'not-enough-data', message: gateVerdict(result), body: [...problemTexts(result), ...adviceTexts(result)].join('\n') } });
  }
  for (const s of result.suppressed) {
    cases.push({
      classname: 'leakhunt.gate.leak', name: `${s.site.location}${siteKindTag(s.site.kind)}`,
      skipped: `suppressed by ${result.suppressionsSource ?? 'suppressions'}:${s.rule.line} leak:${s.rule.pattern} (${s.rule.reason}); leaks ${formatRate(s.site.leakRateBytesPerHour)}`,
    });
  }
  for (const b of result.baselined) {
    cases.push({
      classname: 'leakhunt.gate.leak', name: `${b.site.location}${siteKindTag(b.site.kind)}`,
      systemOut: `in the baseline: ${formatRate(b.site.leakRateBytesPerHour)} now, ${formatRate(b.baselineRateBytesPerHour)} in the baseline, accepted up to ${formatRate(b.allowedRateBytesPerHour)}`,
    });
  }
  const live = result.liveGrowth;
  const liveCase: TestCase = { classname: 'leakhunt.gate.memory', name: `live malloc growth within ${formatBytes(live.allowedBytes)}` };
  if (live.exceeded) {
    liveCase.failure = { type: 'memory-growth', message: `live malloc grew ${formatBytes(live.bytes)}, over the ${formatBytes(live.allowedBytes)} limit (confidence ${live.confidence.toFixed(2)})`, body: '' };
  } else {
    liveCase.systemOut = `live malloc ${formatBytes(live.bytes)}${live.significant ? '' : ' (not significant)'}`;
  }
  cases.push(liveCase);
  const rss = result.rssGrowth;
  if (rss.allowedBytes !== undefined) {
    const rssCase: TestCase = { classname: 'leakhunt.gate.memory', name: `RSS growth within ${formatBytes(rss.allowedBytes)}` };
    if (rss.exceeded) rssCase.failure = { type: 'rss-growth', message: `RSS grew ${formatBytes(rss.bytes)}, over the ${formatBytes(rss.allowedBytes)} limit`, body: '' };
    else rssCase.systemOut = `RSS ${formatBytes(rss.bytes)}`;
    cases.push(rssCase);
  }
  const failures = cases.filter((c) => c.failure).length;
  const errors = cases.filter((c) => c.error).length;
  const skipped = cases.filter((c) => c.skipped !== undefined).length;
  const counts = `tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${result.run.durationSec.toFixed(3)}"`;
  const properties = [
    ['verdict', gateVerdict(result)], ['command', result.run.command.join(' ')],
    ['max-leak-rate', max], ['max-growth', formatBytes(t.maxGrowthBytes)], ['min-confidence', String(t.minConfidence)],
    ...(t.maxRssGrowthBytes === undefined ? [] : [['max-rss-growth', formatBytes(t.maxRssGrowthBytes)]]),
    ['detectable-leak-rate', formatDetectable(result.detection.rateBytesPerHour)],
  ].map(([name, value]) => `      <property name="${xmlAttribute(name!)}" value="${xmlAttribute(value!)}"/>`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="leakhunt gate" ${counts}>`,
    `  <testsuite name="leakhunt gate" ${counts}>`,
    '    <properties>',
    ...properties,
    '    </properties>',
    ...cases.map(renderCase),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
