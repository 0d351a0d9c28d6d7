/**
 * The layout follows the data: core → rundir → launch → snapshot → symbolize → pprof → analyse → pipeline →
 * report | gate | push → commands → cli. Every import of src/ (type-only ones too) runs down that order.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importsOf, importViolations, stageOf, type SourceFile } from './helpers/import-order.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function sourceFiles(dir: string): SourceFile[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    if (!name.endsWith('.ts')) return [];
    return [{ path: relative(repoRoot, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }];
  });
}

describe('the import order of src/', () => {
  test('no import of src/ runs backwards or sideways', () => {
    const files = sourceFiles(join(repoRoot, 'src'));
    assert.ok(files.length > 50, `found the sources (${files.length})`);
    const violations = importViolations(files);
    assert.deepEqual(violations.map((v) => v.message), []);
  });

  test('a backward import fails, with a message naming the file, the import and the rule', () => {
    const fake: SourceFile[] = [
      { path: 'src/analyse/timeline.ts', text: "import type { JvmSample } from '../launch/jvm-stats.js';\nimport { fitLine } from './statistics.js';" },
      { path: 'src/pprof/convert.ts', text: "export { ProfileSeriesBuilder } from '../analyse/series.js';" },
      { path: 'src/gate/evaluate.ts', text: "import { abbreviateTemplates } from '../report/index.js';" },
      { path: 'src/rundir/layout.ts', text: "const lazy = () => import('../pipeline/index.js');" },
      { path: 'src/core/errors.ts', text: "type T = import('../rundir/index.js').RunMeta;" },
      { path: 'src/report/text.ts', text: "import { abbreviateTemplates } from '../analyse/index.js';\nimport chalk from 'chalk';" },
    ];
    assert.deepEqual(importViolations(fake).map((v) => v.message), [
      "src/analyse/timeline.ts imports '../launch/jvm-stats.js' (analyse → launch): launch may be imported only by commands, cli; "
        + 'analyse may import only core, rundir, snapshot, symbolize, pprof',
      "src/pprof/convert.ts imports '../analyse/series.js' (pprof → analyse): analyse is above pprof; "
        + 'pprof may import only core, rundir, snapshot, symbolize',
      "src/gate/evaluate.ts imports '../report/index.js' (gate → report): gate and report are siblings and may not import each other; "
        + 'gate may import only core, rundir, snapshot, symbolize, pprof, analyse, pipeline',
      "src/rundir/layout.ts imports '../pipeline/index.js' (rundir → pipeline): pipeline is above rundir; rundir may import only core",
      "src/core/errors.ts imports '../rundir/index.js' (core → rundir): rundir is above core; core may import only nothing outside itself",
    ]);
  });

  test('an unknown folder has no place in the order until it is given one', () => {
    const messages = importViolations([{ path: 'src/upload/send.ts', text: "import { x } from '../core/errors.js';" }]).map((v) => v.message);
    assert.deepEqual(messages, ['src/upload/send.ts: src/upload has no place in the stage order (test/unit/helpers/import-order.ts)']);
  });

  test('every kind of import is found', () => {
    assert.deepEqual(importsOf('x.ts', [
      "import a from './a.js';", "import type { B } from './b.js';", "export * from './c.js';", "export { d } from './d.js';",
      "const e = await import('./e.js');", "type F = import('./f.js').F;", "import g = require('./g.js');", "import './h.js';",
    ].join('\n')), ['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js']);
    assert.equal(stageOf('src/cli.ts'), 'cli');
    assert.equal(stageOf('src/pipeline/model.ts'), 'pipeline');
  });
});
