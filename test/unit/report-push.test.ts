/** report.json's push — what a profiling backend got of a run's profiles — in the text, Markdown and HTML reports. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REPORT_SCHEMA, type PushReport, type RunReport } from '../../src/pipeline/model.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { pushSummary, renderText } from '../../src/report/text.js';

const MiB = 1024 * 1024;

function report(push?: PushReport): RunReport {
  return {
    schema: REPORT_SCHEMA, command: ['./app'], pid: 42, exitStatus: 0, durationSec: 30, sampleBytes: 512 * 1024, snapshotIntervalMs: 1000,
    snapshots: 30, verdict: { kind: 'no-growth', summary: 'nothing grows' }, detection: { detectableRateBytesPerHour: null },
    memory: { rssGrowthBytesPerHour: 0, liveGrowthBytesPerHour: 0, rssStartBytes: 40 * MiB, rssEndBytes: 40 * MiB, liveStartBytes: MiB, liveEndBytes: MiB },
    shim: null, warnings: [], sites: [], ...(push ? { push } : {}),
  };
}

const allSent: PushReport = { backend: 'pyroscope', endpoint: 'http://pyroscope:4040/ingest', pushed: 30, retried: 2, left: 0, rejected: 0, thinned: 0 };
const someLeft: PushReport = {
  backend: 'parca', endpoint: 'http://parca:7070/api/profiles/writeraw', pushed: 12, retried: 3, left: 18, rejected: 1, thinned: 4,
  stopped: 'answered 401: <b>no *tenant*</b> | try `again`',
};

describe('the push summary in the reports', () => {
  test('in words: pushed of all, retried, left — and for what is left, where it is and the command that sends it', () => {
    assert.equal(pushSummary(allSent), '30 of 30 profiles pushed to pyroscope at http://pyroscope:4040/ingest, 2 retried, 0 left');
    assert.equal(pushSummary(someLeft), '12 of 30 profiles pushed to parca at http://parca:7070/api/profiles/writeraw, 3 retried, 18 left in the run '
      + 'directory (1 refused): send them with leakhunt push <run directory> http://parca:7070/api/profiles/writeraw --push-to parca; '
      + '4 deleted by retention before they were sent; pushing stopped: answered 401: <b>no *tenant*</b> | try `again`');
  });

  test('text: one line under the run\'s figures, only when report.json has it', () => {
    const lines = renderText(report(someLeft)).split('\n');
    assert.equal(lines.filter((line) => line.startsWith('  push: ')).length, 1);
    assert.ok(lines.includes(`  push: ${pushSummary(someLeft)}`));
    assert.doesNotMatch(renderText(report()), /push/);
  });

  test('Markdown: a paragraph of its own, the server\'s words escaped', () => {
    const markdown = renderMarkdown(report(someLeft));
    const paragraph = markdown.split('\n').find((line) => line.startsWith('**Push:**'));
    assert.ok(paragraph, markdown);
    assert.match(paragraph, /^\*\*Push:\*\* 12 of 30 profiles pushed to parca at .*, 3 retried, 18 left in the run directory \(1 refused\)/);
    assert.ok(paragraph.includes('\\<b\\>no \\*tenant\\*\\</b\\> \\| try \\`again\\`'), paragraph);
    assert.match(renderMarkdown(report(allSent)), /^\*\*Push:\*\* 30 of 30 profiles pushed to pyroscope at .*, 2 retried, 0 left$/m);
    assert.doesNotMatch(renderMarkdown(report()), /Push/);
  });

  test('HTML: with the run\'s facts, escaped, marked when profiles were left', () => {
    const html = renderHtml({ report: report(someLeft), timeline: [] });
    const paragraph = /<p class="([a-z]+)" id="push">([^<]*)<\/p>/.exec(html);
    assert.ok(paragraph, 'a push paragraph');
    assert.equal(paragraph[1], 'warning');
    assert.ok(paragraph[2]!.includes('12 of 30 profiles pushed to parca at http://parca:7070/api/profiles/writeraw, 3 retried, 18 left'));
    assert.ok(paragraph[2]!.includes('&lt;b&gt;no *tenant*&lt;/b&gt;'));
    assert.match(renderHtml({ report: report(allSent), timeline: [] }), /<p class="facts" id="push">Push: 30 of 30 profiles pushed to pyroscope/);
    assert.doesNotMatch(renderHtml({ report: report(), timeline: [] }), /id="push"/);
  });
});
