#!/usr/bin/env node
// Builds the memory-accounting fixtures into fixtures/build/ (gitignored):
//
//   fixtures/build/fragmenter          fixtures/c/fragmenter.c (RSS grows from glibc fragmentation, live heap flat)
//   fixtures/build/heap/classes/       fixtures/java/heap/src/**/*.java (only the Java heap grows)
//
// C is built with -O2 -g, no frame pointers, like the other fixtures. A target is skipped when all its outputs
// are newer than its sources (and this script).
//
// Usage: node scripts/build-fixtures-memory.mjs [--force] [--quiet]
// Env: CC (default cc), JAVA_HOME (JDK for javac; default /usr/lib/jvm/java-17-openjdk-amd64, else the javac on PATH).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);
const buildDir = path.join(root, 'fixtures', 'build');
const DEFAULT_JDK = '/usr/lib/jvm/java-17-openjdk-amd64';

const argv = process.argv.slice(2);
const force = argv.includes('--force');
const quiet = argv.includes('--quiet');
for (const a of argv) {
  if (a !== '--force' && a !== '--quiet') fail(`unknown argument ${a} (usage: node scripts/build-fixtures-memory.mjs [--force] [--quiet])`);
}

function fail(msg) {
  console.error(`build-fixtures-memory: ${msg}`);
  process.exit(1);
}

function log(msg) {
  if (!quiet) console.log(`build-fixtures-memory: ${msg}`);
}

const rel = (p) => path.relative(root, p) || '.';

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of an executable on PATH (or given with a slash); fails with `hint` when there is none. */
function tool(name, hint) {
  if (name.includes('/')) {
    if (isExecutable(name)) return path.resolve(name);
  } else {
    for (const dir of (process.env.PATH || '').split(path.delimiter)) {
      if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
    }
  }
  return fail(`${name} not found: ${hint}`);
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return null;
  }
}

function listFiles(dir, ext) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) return listFiles(p, ext);
    return entry.name.endsWith(ext) ? [p] : [];
  }).sort();
}

function upToDate(sources, outputs) {
  if (force) return false;
  const newestSource = Math.max(...sources.map((s) => mtime(s) ?? Infinity));
  return outputs.every((o) => (mtime(o) ?? -Infinity) > newestSource);
}

function run(cmd, args) {
  log(`$ ${[cmd, ...args].map((a) => (a.startsWith(root) ? rel(a) : a)).join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${path.basename(cmd)} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.status}`})`);
}

/** Build into a temporary name, then rename, so a half-written output never looks fresh. */
function buildInto(out, build) {
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    build(tmp);
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmp, out);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function jdk() {
  const candidates = [process.env.JAVA_HOME, DEFAULT_JDK].filter(Boolean);
  const javac = spawnSync('sh', ['-c', 'command -v javac'], { encoding: 'utf8' }).stdout?.trim();
  if (javac) candidates.push(path.dirname(path.dirname(fs.realpathSync(javac))));
  const home = candidates.find((h) => isExecutable(path.join(h, 'bin', 'javac')));
  return home ?? fail('no JDK (javac) found: apt-get install openjdk-17-jdk-headless (or set JAVA_HOME)');
}

function buildFragmenter() {
  const src = path.join(root, 'fixtures', 'c', 'fragmenter.c');
  const out = path.join(buildDir, 'fragmenter');
  if (upToDate([src, self], [out])) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const cc = tool(process.env.CC || 'cc', 'apt-get install build-essential');
  buildInto(out, (tmp) => run(cc, ['-std=c11', '-O2', '-g', '-Wall', '-Wextra', '-pthread', '-o', tmp, src]));
  log(`built ${rel(out)}`);
}

function buildHeapClasses() {
  const srcDir = path.join(root, 'fixtures', 'java', 'heap', 'src');
  const sources = listFiles(srcDir, '.java');
  if (sources.length === 0) fail(`no Java sources under ${rel(srcDir)}`);
  const out = path.join(buildDir, 'heap', 'classes');
  const classes = sources.map((s) => path.join(out, path.relative(srcDir, s).replace(/\.java$/, '.class')));
  if (upToDate([...sources, self], classes)) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const javac = path.join(jdk(), 'bin', 'javac');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // --release 17 so the classes run on a JDK 17 `java` even if javac is newer.
  buildInto(out, (tmp) => run(javac, ['--release', '17', '-g', '-encoding', 'UTF-8', '-Xlint:all', '-Xlint:-options', '-d', tmp, ...sources]));
  log(`built ${rel(out)}`);
}

fs.mkdirSync(buildDir, { recursive: true });
buildFragmenter();
buildHeapClasses();
