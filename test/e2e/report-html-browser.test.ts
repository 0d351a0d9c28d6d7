/**
 * The HTML report of a real run, opened from disk in headless Chromium (the system's /usr/bin/chromium, driven by
 * playwright-core): it loads without console errors, draws its timeline, names the top site and draws the growth
 * flame graph. A screenshot is kept in test-artifacts/report.png. Without Chromium it is skipped, saying what to
 * install (under CI=true it fails, saying the same).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';
import { assertInstalled, chromium as chromiumPackage, skipWithout } from './system-packages.js';

const chromiumPath = chromiumPackage.what;
const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

type Playwright = typeof import('playwright-core');

async function loadPlaywright(): Promise<Playwright> {
  try {
    return await import('playwright-core');
  } catch (error) {
    assert.fail(`playwright-core is not installed (npm ci installs it as a devDependency): ${(error as Error).message}`);
  }
}

describe('the HTML report in a browser', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let report: ReportJson;

  before(async () => {
    const run = await runCli(['run', '-q', '--out', out, '--interval', '200ms', '--sample-bytes', '1', '--',
      join(fixtureBuild, 'leaky_apis'), '--rounds', '12', '--round-ms', '100']);
    assert.equal(run.exitCode, 0, run.all);
    report = readJson<ReportJson>(join(out, 'report.json'));
    assert.ok(report.sites.length > 0, 'the run found sites');
  });
  after(() => dir.cleanup());

  it('leakhunt run wrote report.html; report --format html prints the same page', async () => {
    const written = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(written, /^<!DOCTYPE html>/);
    const printed = await runCli(['report', out, '--format', 'html']);
    assert.equal(printed.exitCode, 0, printed.all);
    assert.equal(printed.stdout, written.trimEnd(), 'the same page (execa strips the final newline)');
  });

  it('renders from disk in headless Chromium: timeline, the top site, the flame graph', { skip: skipWithout(chromiumPackage) }, async () => {
    assertInstalled(chromiumPackage);
    const { chromium } = await loadPlaywright();
    const profileDir = tempDir('leakhunt-chromium-');
    const context = await chromium.launchPersistentContext(profileDir.path, {
      executablePath: chromiumPath, headless: true, args: chromiumArgs, viewport: { width: 1280, height: 900 },
    });
    try {
      const page = context.pages()[0] ?? await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('request', (request) => { if (!request.url().startsWith('file:')) problems.push(`network request: ${request.url()}`); });
      await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });

      // The timeline: paths of non-zero length.
      const lengths = await page.locator('#timeline-chart path.line').evaluateAll(
        (paths) => paths.map((p) => (p as unknown as { getTotalLength(): number }).getTotalLength()),
      );
      assert.ok(lengths.length >= 2, `timeline series drawn: ${lengths.length}`);
      assert.ok(lengths.every((l) => l > 0), `paths of non-zero length: ${lengths.join(', ')}`);
      const box = await page.locator('#timeline-chart').boundingBox();
      assert.ok(box && box.width > 400 && box.height > 100, `the chart has a size: ${JSON.stringify(box)}`);

      // The top site, by name, visible in the ranked list.
      const top = report.sites[0]!;
      await page.locator('details.site .fn').first().waitFor({ state: 'visible' });
      assert.equal(await page.locator('details.site .fn').first().textContent(), top.function);
      assert.ok(await page.getByText(top.function, { exact: true }).first().isVisible());

      // Its stack opens on a click.
      await page.locator('details.site summary').first().click();
      assert.ok(await page.locator('details.site').first().locator('.stack li').first().isVisible());

      // The flame graph: rectangles, first vs last snapshot by default.
      const rects = await page.locator('#flame svg rect').count();
      assert.ok(rects > 3, `flame graph rectangles: ${rects}`);
      const options = await page.locator('#flame-from option').count();
      assert.equal(await page.locator('#flame-from').inputValue(), '0');
      assert.equal(await page.locator('#flame-to').inputValue(), String(options - 1));
      // The header says how the net change splits: what grew, what shrank (and stacks too small to draw).
      assert.match(await page.locator('#flame-summary').textContent() ?? '', /in use [^,]+ → [^,]+, net [+−±][\d.]+ \S+: the stacks that grew added [\d.]+ \S+, those that shrank gave back [\d.]+ \S+.*\. The widths show what grew\.$/);
      assert.ok(await page.getByText(top.function, { exact: false }).count() > 1, 'the top site is in the flame graph too');

      // What shrank can be shown instead; then back to the growth.
      await page.locator('#flame-mode').selectOption('shrank');
      assert.match(await page.locator('#flame-summary').textContent() ?? '', /The widths show what shrank\.$/);
      assert.ok(await page.locator('#flame svg rect').count() > 0 || await page.getByText('Nothing shrank between these two snapshots.').isVisible());
      await page.locator('#flame-mode').selectOption('grew');

      // The site's own frame is the bold one in its open stack.
      const bold = page.locator('details.site').first().locator('.stack li.site-frame');
      assert.equal(await bold.count(), 1);
      assert.equal(await bold.evaluate((li) => (globalThis as unknown as { getComputedStyle(e: unknown): { fontWeight: string } }).getComputedStyle(li).fontWeight), '700');
      assert.equal(await bold.textContent(), top.location);

      // Hovering the chart shows the tooltip; another pair of snapshots redraws the graph.
      await page.locator('#tl-overlay').hover();
      assert.ok(await page.locator('#tooltip').isVisible());
      await page.locator('#flame-from').selectOption(String(Math.floor(options / 2)));
      assert.match(await page.locator('#flame-summary').textContent() ?? '', new RegExp(`^From #\\d+`));
      await page.locator('#flame-from').selectOption('0');
      await page.mouse.move(0, 0);

      mkdirSync(join(repoRoot, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: join(repoRoot, 'test-artifacts', 'report.png'), fullPage: true });
      assert.deepEqual(problems, [], 'no console errors, no network');
    } finally {
      await context.close();
      profileDir.cleanup();
    }
  });
});
