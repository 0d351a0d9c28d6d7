/**
 * README opens with what `npm run demo` prints, abridged: the sample must be that output's shape today — its lines in
 * order, each as printed (a line of "…" stands for those left out, figures are the run's own), the same top site and
 * the same stack frames. The demo's own command (scripts/demo.mjs), run into a temp dir.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { demoCommand, repoRoot, runCli, tempDir } from './helpers.js';

/** README's opening sample: the lines of its first code block, without the `$ npm run demo` line. */
function readmeSample(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /```\n(\$ npm run demo[^\n]*)\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README opens with a `$ npm run demo` sample');
  return block[2]!.trimEnd().split('\n');
}

/**
 * A printed line with its figures (numbers and their units, sparklines, pids, durations) blanked, to compare shapes:
 * a rate of 947 MiB/h in one run is 1.02 GiB/h in the next. The top site's growth is "over the run" or "from 4.0s"
 * as the run's own start-up decides (where the sites' window starts is a figure too).
 */
function shape(line: string): string {
  return line.replace(/[▁▂▃▄▅▆▇█]+/g, '~').replace(/[-+]?\d+(\.\d+)?/g, '9').replace(/\b9 ?(B|KiB|MiB|GiB|TiB)\b/g, '9 U')
    .replace(/ (over the run|from 9s), confidence/g, ' <window>, confidence').replace(/\s+/g, ' ').trim();
}

describe('README\'s opening sample is what the demo prints', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('every line of the sample is in the demo\'s output, in order, as printed (figures aside)', async () => {
    // scripts/demo.mjs's own arguments, but into a temp dir.
    const result = await runCli(['run', '--out', join(dir.path, 'demo'), '--interval', '2s', '--', ...demoCommand(20)], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const printed = result.stdout.split('\n');
    let at = 0;
    for (const line of readmeSample()) {
      if (/^\s*…\s*$/.test(line)) continue;
      // The command line is abridged in the sample ("java … demo.LeakyService"): its shape is compared from "(pid".
      const wanted = line.includes('java …') ? shape(line.slice(line.indexOf('(pid'))) : shape(line);
      const found = printed.findIndex((p, i) => i >= at && (line.includes('java …') ? shape(p).endsWith(wanted) : shape(p) === wanted));
      assert.ok(found >= 0, `README's line\n  ${line}\nis not in the demo's output after line ${at}:\n${printed.join('\n')}`);
      at = found + 1;
    }
  });
});
