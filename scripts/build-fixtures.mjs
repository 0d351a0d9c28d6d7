#!/usr/bin/env node
// Builds the test/demo fixtures into fixtures/build/ (gitignored):
//
//   fixtures/build/leaky_apis                  fixtures/c/leaky_apis.c
//   fixtures/build/steady                      fixtures/c/steady.c
//   fixtures/build/forker                      fixtures/c/forker.c
//   fixtures/build/cache_and_leak              fixtures/c/cache_and_leak.c
//   fixtures/build/demo/libdemoregistry.so     fixtures/java/demo/native/demoregistry.cpp
//   fixtures/build/demo/classes/               fixtures/java/demo/src/**/*.java
//
// C/C++ are built with -O2 -g and WITHOUT -fno-omit-frame-pointer on purpose:
// the profiler must unwind frames that have no frame pointer.  A target is
// skipped when all its outputs are newer than its sources (and this script).
//
// Usage: node scripts/build-fixtures.mjs [--force] [--quiet]
// Env: CC (default cc), CXX (default c++), JAVA_HOME (JDK for javac + JNI
// headers; default /usr/lib/jvm/java-17-openjdk-amd64, else derived from the
// javac on PATH).
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
  if (a !== '--force' && a !== '--quiet') {
    fail(`unknown argument ${a} (usage: node scripts/build-fixtures.mjs [--force] [--quiet])`);
  }
}

function fail(msg) {
  console.error(`build-fixtures: ${msg}`);
  process.exit(1);
}

function log(msg) {
  if (!quiet) console.log(`build-fixtures: ${msg}`);
}

const rel = (p) => path.relative(root, p) || '.';

/** Absolute path of an executable found on PATH (or given with a slash), else null. */
function which(cmd) {
  if (cmd.includes('/')) return isExecutable(cmd) ? path.resolve(cmd) : null;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, cmd);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return null;
  }
}

function listFiles(dir, ext) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p, ext));
    else if (entry.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

/** True when every output exists and is newer than every source. */
function upToDate(sources, outputs) {
  if (force) return false;
  const newestSource = Math.max(...sources.map((s) => mtime(s) ?? Infinity));
  return outputs.every((o) => {
    const t = mtime(o);
    return t !== null && t > newestSource;
  });
}

function run(cmd, args) {
  const shown = [cmd, ...args].map((a) => (a.startsWith(root) ? rel(a) : a)).join(' ');
  log(`$ ${shown}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    fail(`${path.basename(cmd)} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.status}`})`);
  }
}

let cachedCc;
function cc() {
  if (cachedCc === undefined) {
    const name = process.env.CC || 'cc';
    cachedCc = which(name);
    if (!cachedCc) fail(`no C compiler (${name}) found: apt-get install build-essential`);
  }
  return cachedCc;
}

let cachedCxx;
function cxx() {
  if (cachedCxx === undefined) {
    const name = process.env.CXX || 'c++';
    cachedCxx = which(name);
    if (!cachedCxx) fail(`no C++ compiler (${name}) found: apt-get install build-essential`);
  }
  return cachedCxx;
}

function looksLikeJdk(home) {
  return (
    !!home &&
    isExecutable(path.join(home, 'bin', 'javac')) &&
    fs.existsSync(path.join(home, 'include', 'jni.h'))
  );
}

let cachedJdk;
/** JDK home with bin/javac and include/jni.h. */
function jdk() {
  if (cachedJdk !== undefined) return cachedJdk;
  const candidates = [];
  if (process.env.JAVA_HOME) candidates.push(process.env.JAVA_HOME);
  candidates.push(DEFAULT_JDK);
  const javac = which('javac');
  if (javac) candidates.push(path.dirname(path.dirname(fs.realpathSync(javac))));
  cachedJdk = candidates.find(looksLikeJdk);
  if (!cachedJdk) {
    fail('no JDK (javac + include/jni.h) found: apt-get install openjdk-17-jdk-headless (or set JAVA_HOME)');
  }
  return cachedJdk;
}

/** Build into a temporary name, then rename, so a half-written output never looks fresh. */
function buildFile(out, build) {
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

const C_FLAGS = ['-std=c11', '-O2', '-g', '-Wall', '-Wextra'];
const CXX_FLAGS = ['-std=c++17', '-O2', '-g', '-Wall', '-Wextra', '-fPIC', '-shared', '-pthread'];

function buildCProgram(name, extraFlags = []) {
  const src = path.join(root, 'fixtures', 'c', `${name}.c`);
  const out = path.join(buildDir, name);
  if (!fs.existsSync(src)) fail(`missing source ${rel(src)}`);
  if (upToDate([src, self], [out])) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const compiler = cc();
  buildFile(out, (tmp) => run(compiler, [...C_FLAGS, ...extraFlags, '-o', tmp, src]));
  log(`built ${rel(out)}`);
}

function buildDemoLibrary() {
  const src = path.join(root, 'fixtures', 'java', 'demo', 'native', 'demoregistry.cpp');
  const outDir = path.join(buildDir, 'demo');
  const out = path.join(outDir, 'libdemoregistry.so');
  if (!fs.existsSync(src)) fail(`missing source ${rel(src)}`);
  if (upToDate([src, self], [out])) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const compiler = cxx();
  const home = jdk();
  fs.mkdirSync(outDir, { recursive: true });
  const includes = ['-I', path.join(home, 'include'), '-I', path.join(home, 'include', 'linux')];
  buildFile(out, (tmp) => run(compiler, [...CXX_FLAGS, ...includes, '-o', tmp, src]));
  log(`built ${rel(out)}`);
}

function buildDemoClasses() {
  const srcDir = path.join(root, 'fixtures', 'java', 'demo', 'src');
  const sources = listFiles(srcDir, '.java');
  if (sources.length === 0) fail(`no Java sources under ${rel(srcDir)}`);
  const outDir = path.join(buildDir, 'demo', 'classes');
  const outputs = sources.map((s) =>
    path.join(outDir, path.relative(srcDir, s).replace(/\.java$/, '.class')),
  );
  if (upToDate([...sources, self], outputs)) {
    log(`${rel(outDir)} is up to date`);
    return;
  }
  const javac = path.join(jdk(), 'bin', 'javac');
  fs.mkdirSync(path.dirname(outDir), { recursive: true });
  // --release 17 so the classes run on a JDK 17 `java` even if javac is newer.
  buildFile(outDir, (tmp) =>
    run(javac, ['--release', '17', '-g', '-encoding', 'UTF-8', '-Xlint:all', '-Xlint:-options', '-d', tmp, ...sources]),
  );
  log(`built ${rel(outDir)}`);
}

fs.mkdirSync(buildDir, { recursive: true });
buildCProgram('leaky_apis');
buildCProgram('steady');
buildCProgram('forker', ['-pthread']);
buildCProgram('cache_and_leak');
buildDemoLibrary();
buildDemoClasses();
// Symbolization fixtures: stripped libraries with separate debug info, a JNI library deleted after loading.
run(process.execPath, [path.join(root, 'scripts', 'build-fixtures-debuginfo.mjs'), ...argv]);
// Memory-accounting fixtures (fragmentation, a Java heap that grows) and the hardening battery.
run(process.execPath, [path.join(root, 'scripts', 'build-fixtures-memory.mjs'), ...argv]);
run(process.execPath, [path.join(root, 'scripts', 'build-fixtures-hardening.mjs'), ...argv]);
