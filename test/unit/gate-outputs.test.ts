/** The gate's outputs: JUnit XML (well-formed, escaped), GitHub annotations, Markdown, and what goes where. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { SiteReport } from '../../src/analyse/index.js';
import { LeakhuntError } from '../../src/core/errors.js';
import { evaluateGate as evaluate } from '../../src/gate/evaluate.js';
import { annotationData, annotationProperty, renderAnnotations } from '../../src/gate/github.js';
import { renderJunit, xmlAttribute, xmlText } from '../../src/gate/junit.js';
import { markdownText, renderMarkdown } from '../../src/gate/markdown.js';
import { writeGateOutputs } from '../../src/gate/outputs.js';
import { parseSuppressions } from '../../src/gate/suppressions.js';
import { DEFAULT_GATE_THRESHOLDS, type GateOptions } from '../../src/gate/types.js';
import { gateVerdict } from '../../src/gate/wording.js';
import { REPORT_SCHEMA, type RunReport } from '../../src/pipeline/index.js';

/** The gate's decision with its one-line verdict, as every output words it. */
const evaluateGate = (report: RunReport, options: GateOptions) => {
  const result = evaluate(report, options);
  return { ...result, verdict: gateVerdict(result) };
};

const MiB = 1024 * 1024;
const N = 21;

const nasty = 'std::map<std::string, Session*>::operator[](char const* "q" & \'a\')';

function site(fn: string, rate: number, stack?: string[]): SiteReport {
  const series = Array.from({ length: N }, (_, i) => 8192 + (rate * i * 30) / 3600);
  return {
    rank: 0, function: fn, location: `${fn} (x.cpp:7)`, stack: stack ?? [`${fn} (x.cpp:7)`, 'main (x.cpp:1)'], status: rate > 0 ? 'growing' : 'stable',
    shape: 'linear', leakRateBytesPerHour: rate, leakRateIntervalBytesPerHour: [rate, rate], growthBytes: series[N - 1]! - series[0]!,
    liveBytes: series[N - 1]!, confidence: rate > 0 ? 1 : 0.2, series,
  } as SiteReport;
}

function report(sites: SiteReport[]): RunReport {
  return {
    schema: REPORT_SCHEMA, command: ['./svc', '--x=<y>'], pid: 1, exitStatus: 0, durationSec: 630, sampleBytes: 1, snapshotIntervalMs: 30_000, snapshots: N,
    verdict: { kind: 'native-leak', summary: '' },
    memory: { rssGrowthBytesPerHour: 0, liveGrowthBytesPerHour: 0, rssStartBytes: 1e8, rssEndBytes: 1e8, liveStartBytes: N * 8192, liveEndBytes: N * 8192 },
    shim: null, warnings: ['a <warning> & more'], sites,
  } as RunReport;
}

const options = (o: Partial<GateOptions> = {}): GateOptions => ({ ...DEFAULT_GATE_THRESHOLDS, ...o });

/** A small XML 1.0 well-formedness check: balanced tags, quoted attributes, only the five entities, no raw < or &. */
function assertWellFormedXml(xml: string): void {
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
  const body = xml.slice(xml.indexOf('?>') + 2);
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let roots = 0;
  let consumed = 0;
  for (let m = token.exec(body); m; m = token.exec(body)) {
    consumed = token.lastIndex;
    const [, closing, name, attributes, selfClosing, text] = m;
    const check = (s: string) => assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(s), `bare & in ${JSON.stringify(s)}`);
    if (text !== undefined) {
      check(text);
      if (stack.length === 0) assert.equal(text.trim(), '', 'no text outside the root');
      continue;
    }
    check(attributes ?? '');
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes what was opened`);
    else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  assert.equal(consumed, body.length, `parsed to the end (stopped at ${JSON.stringify(body.slice(consumed, consumed + 40))})`);
  assert.deepEqual(stack, []);
  assert.equal(roots, 1);
}

describe('JUnit XML', () => {
  test('escaping: text and attributes', () => {
    assert.equal(xmlText('a<b>&"c\''), 'a&lt;b&gt;&amp;&quot;c&apos;');
    assert.equal(xmlAttribute('x\ny\tz'), 'x&#10;y&#9;z');
    assert.equal(xmlText('bell\u0007'), 'bell\uFFFD');
  });

  test('one failing testcase per site over the threshold; suppressed ones skipped with the reason; well-formed', () => {
    const suppressions = parseSuppressions('leak:^quiet_leak$  # "known" <since> & forever', 'k.supp');
    const result = evaluateGate(report([site(nasty, 9 * MiB), site('quiet_leak', 5 * MiB), site('flat', 0)]), options({ suppressions }));
    const xml = renderJunit(result);
    assertWellFormedXml(xml);
    assert.match(xml, /<testsuites name="leakhunt gate" tests="3" failures="1" errors="0" skipped="1"/);
    assert.ok(xml.includes(`name="${xmlAttribute(`${nasty} (x.cpp:7)`)}"`));
    assert.ok(xml.includes('<failure type="native-leak" message="std::map&lt;std::string, Session*&gt;::operator[]'));
    assert.ok(xml.includes('<skipped message="suppressed by k.supp:1 leak:^quiet_leak$ (&quot;known&quot; &lt;since&gt; &amp; forever)'));
  });

  test('a passing testcase when no site leaks; an error testcase when the run could not tell', () => {
    const pass = renderJunit(evaluateGate(report([site('flat', 0)]), options()));
    assertWellFormedXml(pass);
    assert.match(pass, /<testcase classname="leakhunt.gate.leak" name="no call site leaks over 1.00 MiB\/h" time="0">\s*<system-out>/);
    assert.match(pass, /failures="0" errors="0"/);
    const short = report([site('flat', 0)]);
    short.snapshots = 2;
    const unsure = renderJunit(evaluateGate(short, options()));
    assertWellFormedXml(unsure);
    assert.match(unsure, /<error type="not-enough-data" message="NOT ENOUGH DATA: /);
  });
});

describe('GitHub annotations', () => {
  test('escaping of data and properties', () => {
    assert.equal(annotationData('50%\r\ndone'), '50%25%0D%0Adone');
    assert.equal(annotationProperty('a: b, c'), 'a%3A b%2C c');
  });

  test('one ::error per failing site, a notice per suppression, one line each', () => {
    const suppressions = parseSuppressions('leak:^quiet_leak$  # known', 'k.supp');
    const lines = renderAnnotations(evaluateGate(report([site('leak_via_malloc', 9 * MiB), site('quiet_leak', 5 * MiB)]), options({ suppressions })));
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^::error title=Native leak%3A leak_via_malloc::leak_via_malloc \(x\.cpp:7\) leaks 9\.00 MiB\/h, over the 1\.00 MiB\/h threshold/);
    assert.match(lines[1]!, /^::notice title=Suppressed leak%3A quiet_leak::5\.00 MiB\/h, suppressed by k\.supp:1 \(known\)$/);
    assert.ok(lines.every((l) => !l.includes('\n')));
    const pass = renderAnnotations(evaluateGate(report([site('flat', 0)]), options()));
    assert.equal(pass.length, 1);
    assert.match(pass[0]!, /^::notice title=leakhunt gate%3A pass::PASS: /);
  });
});

describe('Markdown', () => {
  test('names with template brackets, pipes and underscores cannot break the table', () => {
    assert.equal(markdownText('a|b<c>_d*'), 'a\\|b&lt;c&gt;\\_d\\*');
    const md = renderMarkdown(evaluateGate(report([site('std::vector<int|x>::push_back', 9 * MiB)]), options()));
    assert.match(md, /^### leakhunt gate: ❌ FAIL\n/);
    const row = md.split('\n').find((l) => l.startsWith('| ❌ |'))!;
    assert.ok(row, md);
    assert.equal(row.split(/(?<!\\)\|/).length, 9, row);
    assert.ok(md.includes('<details>') && md.includes('</details>'));
  });
});

describe('writeGateOutputs', () => {
  test('files, step summary appended, details and annotations on stdout, the one-line verdict last on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leakhunt-gate-out-'));
    try {
      const summary = join(dir, 'summary.md');
      writeFileSync(summary, 'earlier step\n');
      const o = options({ junitPath: join(dir, 'sub', 'junit.xml'), markdownPath: join(dir, 'gate.md'), github: true, githubStepSummaryPath: summary });
      const result = evaluateGate(report([site('leak_via_malloc', 9 * MiB)]), o);
      let stdout = '';
      let stderr = '';
      await writeGateOutputs(result, o, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
      assertWellFormedXml(readFileSync(join(dir, 'sub', 'junit.xml'), 'utf8'));
      const markdown = readFileSync(join(dir, 'gate.md'), 'utf8');
      assert.equal(readFileSync(summary, 'utf8'), `earlier step\n${markdown}\n`);
      assert.match(stdout, /^gate: leak rate > 1\.00 MiB\/h/);
      assert.match(stdout, /\n {2}FAIL {8}leak_via_malloc \(x\.cpp:7\): 9\.00 MiB\/h/);
      assert.match(stdout, /\n::error title=Native leak%3A leak_via_malloc::/);
      assert.equal(stderr, `leakhunt gate: ${result.verdict}\n`);
      assert.equal(stderr.split('\n').length, 2);

      stdout = '';
      stderr = '';
      await writeGateOutputs(result, { ...options(), details: false }, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
      assert.equal(stdout, '');
      assert.match(stderr, /^leakhunt gate: FAIL: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an output that cannot be written is a one-line error, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leakhunt-gate-out-'));
    try {
      writeFileSync(join(dir, 'file'), '');
      const o = options({ junitPath: join(dir, 'file', 'junit.xml') });
      const result = evaluateGate(report([site('flat', 0)]), o);
      const sink = { write: () => true };
      await assert.rejects(writeGateOutputs(result, o, { stdout: sink, stderr: sink }), (e: unknown) => e instanceof LeakhuntError && e.exitCode === 2 && /cannot write the JUnit report/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
