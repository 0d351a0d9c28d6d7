/**
 * Stacks that reach the leak through hard-to-symbolize code: inline frames from separate debug info (a stripped
 * library with a .gnu_debuglink, and one whose debug file is found by build id in LEAKHUNT_DEBUG_DIRS), and a JNI
 * library the JVM loaded from a temporary file that was deleted right after (symbolized from the copy kept while
 * it ran). Fixtures: scripts/build-fixtures-debuginfo.mjs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertRssAccounted, fixtureBuild, javaBin, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const inlined = join(fixtureBuild, 'debuginfo', 'inlined');
const deleted = join(fixtureBuild, 'debuginfo', 'deleted');
const rounds = 20;

/** "name (libinlined.c:line)" for the malloc call and the three calls inlined into each other. */
function expectedInlineStack(): string[] {
  const lines = readFileSync(join(repoRoot, 'fixtures', 'c', 'libinlined.c'), 'utf8').split('\n');
  const lineOf = (text: string) => lines.findIndex((line) => line.includes(text)) + 1;
  return [
    `inline_innermost (libinlined.c:${lineOf('malloc(INLINED_LEAK_BYTES)')})`,
    `inline_middle (libinlined.c:${lineOf('= inline_innermost(round)')})`,
    `inline_outer (libinlined.c:${lineOf('= inline_middle(round + 1)')})`,
    `inlined_leak_entry (libinlined.c:${lineOf('= inline_outer(round)')})`,
  ];
}

async function runInlined(variant: 'debuglink' | 'buildid', debugDirs: string, out: string): Promise<ReportJson> {
  const result = await runCli(['run', '--out', out, '--interval', '250ms', '--sample-bytes', '1', '--json', '--top', '20', '--',
    join(inlined, 'use_inlined'), join(inlined, variant, 'libinlined.so'), '--rounds', String(rounds), '--round-ms', '100'],
  { env: { LEAKHUNT_DEBUG_DIRS: debugDirs } });
  assert.equal(result.exitCode, 0, result.all);
  assert.match(result.stdout, /"schema"/);
  return readJson<ReportJson>(join(out, 'report.json'));
}

describe('inline frames from separate debug info of a stripped library', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  const cases = [
    { variant: 'debuglink', debugDirs: '', how: 'found through .gnu_debuglink in .debug/ next to the library' },
    { variant: 'buildid', debugDirs: join(inlined, 'debug-dir'), how: 'found by build id in a LEAKHUNT_DEBUG_DIRS directory' },
  ] as const;
  for (const { variant, debugDirs, how } of cases) {
    it(`names the inlined functions with file:line and the exported function (${how})`, async () => {
      const report = await runInlined(variant, debugDirs, join(dir.path, variant));
      const site = report.sites.find((s) => s.function === 'inline_innermost');
      assert.ok(site, `inline_innermost is a site (sites: ${report.sites.map((s) => s.function).join(', ')})`);
      assert.deepEqual(site.stack.slice(0, 4), expectedInlineStack());
      assert.match(site.stack[4] ?? '', /^main \(use_inlined\.c:\d+\)$/);
      assert.equal(site.liveBytes, 50021 * rounds);
      assert.equal(site.status, 'growing');
      assert.equal(site.location, expectedInlineStack()[0]);
    });
  }

  it('without the debug directory the stripped library only names its exported function', async () => {
    const report = await runInlined('buildid', '', join(dir.path, 'no-debug-dir'));
    const site = report.sites.find((s) => s.stack.some((frame) => frame.startsWith('inlined_leak_entry')));
    assert.ok(site, report.sites.map((s) => s.function).join(', '));
    assert.equal(site.function, 'inlined_leak_entry');
    assert.equal(site.stack[0], 'inlined_leak_entry (libinlined.so)');
    assert.equal(site.liveBytes, 50021 * rounds);
  });
});

describe('a JNI library deleted after the JVM loaded it', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  after(() => dir.cleanup());

  it('symbolizes its frames from the copy kept while the JVM ran, and lists that copy in objects/index.json', async () => {
    const result = await runCli(['run', '--out', out, '--sample-bytes', '64KiB', '--interval', '500ms', '--json', '--',
      javaBin, `-Dlib=${join(deleted, 'libdeletedjni.so')}`, '-cp', join(deleted, 'classes'), 'deleted.DeletedLibrary', '--seconds', '5'],
    { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const loaded = /deleted loaded and removed (\S+)/.exec(result.stdout)?.[1];
    assert.ok(loaded, result.all);
    assert.equal(existsSync(loaded), false, 'the JVM deleted the library it loaded');
    assert.match(result.stdout, /deleted done calls=\d+/);
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.startsWith('hs_err')), [], 'no JVM crash log');

    const index = readJson<{ schema: string; objects: { originalPath: string; inode: number; buildId?: string; keptPath: string }[] }>(
      join(out, 'objects', 'index.json'));
    assert.equal(index.schema, 'leakhunt.objects/v1');
    const kept = index.objects.find((o) => o.originalPath === loaded);
    assert.ok(kept, JSON.stringify(index));
    assert.ok(kept.inode > 0);
    assert.match(kept.buildId ?? '', /^[0-9a-f]{40}$/);
    assert.equal(kept.keptPath, `${kept.buildId}-${loaded.split('/').pop()}`);
    assert.deepEqual(readFileSync(join(out, 'objects', kept.keptPath)), readFileSync(join(deleted, 'libdeletedjni.so')));

    const report = readJson<ReportJson>(join(out, 'report.json'));
    const site = report.sites[0]!;
    assert.equal(site.function, 'leak_from_deleted_library', report.sites.map((s) => s.function).join(', '));
    assert.match(site.location, /^leak_from_deleted_library \(deletedlib\.c:\d+\)$/);
    assert.match(site.stack[1] ?? '', /^Java_deleted_DeletedLibrary_leakFromDeletedLibrary \(deletedlib\.c:\d+\)$/);
    assert.equal(site.status, 'growing');
    assert.ok(!report.warnings.some((w) => w.includes('deleted')), report.warnings.join('\n'));
    assertRssAccounted(out);
  });
});
