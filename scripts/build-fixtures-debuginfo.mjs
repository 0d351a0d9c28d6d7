#!/usr/bin/env node
// Builds the symbolization fixtures into fixtures/build/debuginfo/ (gitignored):
//
//   inlined/use_inlined                        fixtures/c/use_inlined.c (dlopens the library given as argv[1])
//   inlined/debuglink/libinlined.so            fixtures/c/libinlined.c, stripped, .gnu_debuglink → libinlined.so.debug
//   inlined/debuglink/.debug/libinlined.so.debug   its debug info, where gdb, addr2line and llvm-symbolizer look
//   inlined/buildid/libinlined.so              the same library stripped, without a debuglink
//   inlined/debug-dir/.build-id/xx/yyyy.debug  its debug info by build id: pass inlined/debug-dir in
//                                              LEAKHUNT_DEBUG_DIRS for leakhunt to find it
//   deleted/libdeletedjni.so                   fixtures/java/deleted/native/deletedlib.c (JNI, with debug info)
//   deleted/classes/                           fixtures/java/deleted/src/**/*.java
//
// Stripping is `objcopy --only-keep-debug` + `strip --strip-debug --strip-unneeded` (+ `objcopy
// --add-gnu-debuglink`), as distributions package -dbg/-dbgsym files. C is built with -O2 -g, no frame pointers.
// A group is skipped when all its outputs are newer than its sources (and this script).
//
// Usage: node scripts/build-fixtures-debuginfo.mjs [--force] [--quiet]
// Env: CC (default cc), OBJCOPY (default objcopy), STRIP (default strip), JAVA_HOME (JDK for javac + JNI headers).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);
const outDir = path.join(root, 'fixtures', 'build', 'debuginfo');
const DEFAULT_JDK = '/usr/lib/jvm/java-17-openjdk-amd64';

const argv = process.argv.slice(2);
const force = argv.includes('--force');
const quiet = argv.includes('--quiet');
for (const a of argv) {
  if (a !== '--force' && a !== '--quiet') fail(`unknown argument ${a} (usage: node scripts/build-fixtures-debuginfo.mjs [--force] [--quiet])`);
}

function fail(msg) {
  console.error(`build-fixtures-debuginfo: ${msg}`);
  process.exit(1);
}

function log(msg) {
  if (!quiet) console.log(`build-fixtures-debuginfo: ${msg}`);
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

function run(cmd, args, cwd = root) {
  log(`$ ${[cmd, ...args].map((a) => (a.startsWith(root) ? rel(a) : a)).join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${path.basename(cmd)} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.status}`})`);
}

/** Builds a whole output directory under a temporary name, then renames it: a half-built group never looks fresh. */
function buildDir(out, build) {
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    build(tmp);
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmp, out);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The NT_GNU_BUILD_ID of an ELF file, as `readelf -n` prints it. */
function buildIdOf(file) {
  const r = spawnSync(tool(process.env.READELF || 'readelf', 'apt-get install binutils'), ['-n', file], { encoding: 'utf8' });
  const m = /Build ID:\s*([0-9a-f]+)/.exec(r.stdout ?? '');
  if (!m) fail(`${rel(file)} has no build id`);
  return m[1];
}

function jdk() {
  const candidates = [process.env.JAVA_HOME, DEFAULT_JDK].filter(Boolean);
  const javac = spawnSync('sh', ['-c', 'command -v javac'], { encoding: 'utf8' }).stdout?.trim();
  if (javac) candidates.push(path.dirname(path.dirname(fs.realpathSync(javac))));
  const home = candidates.find((h) => isExecutable(path.join(h, 'bin', 'javac')) && fs.existsSync(path.join(h, 'include', 'jni.h')));
  return home ?? fail('no JDK (javac + include/jni.h) found: apt-get install openjdk-17-jdk-headless (or set JAVA_HOME)');
}

const C_FLAGS = ['-std=c11', '-O2', '-g', '-Wall', '-Wextra', '-Wl,--build-id=sha1'];

function buildInlined() {
  const librarySource = path.join(root, 'fixtures', 'c', 'libinlined.c');
  const programSource = path.join(root, 'fixtures', 'c', 'use_inlined.c');
  const out = path.join(outDir, 'inlined');
  const outputs = ['use_inlined', 'debuglink/libinlined.so', 'debuglink/.debug/libinlined.so.debug', 'buildid/libinlined.so', 'debug-dir']
    .map((p) => path.join(out, p));
  if (upToDate([librarySource, programSource, self], outputs)) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const cc = tool(process.env.CC || 'cc', 'apt-get install build-essential');
  const objcopy = tool(process.env.OBJCOPY || 'objcopy', 'apt-get install binutils');
  const strip = tool(process.env.STRIP || 'strip', 'apt-get install binutils');
  buildDir(out, (tmp) => {
    run(cc, [...C_FLAGS, '-o', path.join(tmp, 'use_inlined'), programSource, '-ldl']);
    const full = path.join(tmp, 'libinlined.full.so');
    run(cc, [...C_FLAGS, '-fPIC', '-shared', '-o', full, librarySource]);
    const debugFile = path.join(tmp, 'libinlined.so.debug');
    run(objcopy, ['--only-keep-debug', full, debugFile]);

    // Variant 1: .gnu_debuglink, the debug file in .debug/ next to the library.
    fs.mkdirSync(path.join(tmp, 'debuglink', '.debug'), { recursive: true });
    fs.copyFileSync(debugFile, path.join(tmp, 'debuglink', '.debug', 'libinlined.so.debug'));
    run(strip, ['--strip-debug', '--strip-unneeded', '-o', path.join(tmp, 'debuglink', 'libinlined.so'), full]);
    // objcopy records the debug file's base name and CRC; it reads the file at the path given.
    run(objcopy, ['--add-gnu-debuglink=.debug/libinlined.so.debug', 'libinlined.so'], path.join(tmp, 'debuglink'));

    // Variant 2: no debuglink; the debug file found only by build id, in a directory of our own.
    fs.mkdirSync(path.join(tmp, 'buildid'));
    run(strip, ['--strip-debug', '--strip-unneeded', '-o', path.join(tmp, 'buildid', 'libinlined.so'), full]);
    const id = buildIdOf(full);
    const byId = path.join(tmp, 'debug-dir', '.build-id', id.slice(0, 2));
    fs.mkdirSync(byId, { recursive: true });
    fs.copyFileSync(debugFile, path.join(byId, `${id.slice(2)}.debug`));

    fs.rmSync(full);
    fs.rmSync(debugFile);
  });
  log(`built ${rel(out)}`);
}

function buildDeleted() {
  const nativeSource = path.join(root, 'fixtures', 'java', 'deleted', 'native', 'deletedlib.c');
  const srcDir = path.join(root, 'fixtures', 'java', 'deleted', 'src');
  const javaSources = listFiles(srcDir, '.java');
  if (javaSources.length === 0) fail(`no Java sources under ${rel(srcDir)}`);
  const out = path.join(outDir, 'deleted');
  const classes = javaSources.map((s) => path.join(out, 'classes', path.relative(srcDir, s).replace(/\.java$/, '.class')));
  if (upToDate([nativeSource, ...javaSources, self], [path.join(out, 'libdeletedjni.so'), ...classes])) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const cc = tool(process.env.CC || 'cc', 'apt-get install build-essential');
  const home = jdk();
  buildDir(out, (tmp) => {
    const includes = ['-I', path.join(home, 'include'), '-I', path.join(home, 'include', 'linux')];
    run(cc, [...C_FLAGS, '-fPIC', '-shared', ...includes, '-o', path.join(tmp, 'libdeletedjni.so'), nativeSource]);
    run(path.join(home, 'bin', 'javac'), ['--release', '17', '-g', '-encoding', 'UTF-8', '-Xlint:all', '-Xlint:-options',
      '-d', path.join(tmp, 'classes'), ...javaSources]);
  });
  log(`built ${rel(out)}`);
}

fs.mkdirSync(outDir, { recursive: true });
buildInlined();
buildDeleted();
