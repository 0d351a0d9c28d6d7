#!/usr/bin/env node
// `npm run test:unit`: the fast tier — the shim's C tests and the TypeScript unit tests, no JVM and no end-to-end
// run. The shim and the CLI are built first (side by side), then both suites run side by side; each suite's output
// is printed whole when it ends, so the two never interleave. Exit status 1 when either failed.
//
// The unit tests run in two processes, each importing its share of the files (not one process per file, as
// `node --test` would): starting node and loading the CLI's modules fifty times over was a third of the tier's time.
// No unit test may rely on a process of its own (the end-to-end tier is where processes are started).
//
// The TypeScript is compiled incrementally (its build info kept in dist/, so a full build's fresh dist/ starts it
// over): a second run compiles only what changed. dist/ may then hold a test whose source has moved or gone, so the
// unit tests run are those of test/unit/, by name.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runs `args` with node; resolves to its exit status and its output (stdout and stderr as they came). */
function run(name, args) {
  return new Promise((resolve) => {
    const child = spawn(node, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    child.on('close', (code, signal) => resolve({ name, status: code ?? (signal ? 1 : 0), output: Buffer.concat(chunks).toString() }));
  });
}

async function step(title, runs) {
  const started = performance.now();
  const results = await Promise.all(runs);
  for (const result of results) {
    if (result.output.trim() !== '') process.stdout.write(`# ${result.name}\n${result.output.endsWith('\n') ? result.output : `${result.output}\n`}`);
  }
  const failed = results.filter((r) => r.status !== 0).map((r) => r.name);
  console.log(`# ${title}: ${failed.length ? `FAILED (${failed.join(', ')})` : 'ok'} in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  return failed.length === 0;
}

const started = performance.now();
const built = await step('build', [
  run('build the shim', [join(root, 'scripts', 'build-native.mjs')]),
  run('build the CLI and tests', [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', join('dist', '.tsbuildinfo')]),
]);
const unitTests = readdirSync(join(root, 'test', 'unit')).filter((f) => f.endsWith('.test.ts')).sort()
  .map((f) => join('dist', 'test', 'unit', f.replace(/\.ts$/, '.js')));
const SHARDS = 2;
const shard = (index) => unitTests.filter((_, i) => i % SHARDS === index);
const passed = built && await step('tests', [
  run('C tests (native/test)', [join(root, 'scripts', 'test-native.mjs')]),
  ...Array.from({ length: SHARDS }, (_, index) => run(`unit tests (test/unit), share ${index + 1} of ${SHARDS}`,
    [join(root, 'scripts', 'unit-shard.mjs'), ...shard(index)])),
]);
console.log(`# test:unit ${passed ? 'passed' : 'FAILED'} in ${((performance.now() - started) / 1000).toFixed(1)}s`);
process.exitCode = passed ? 0 : 1;
