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
import { fixtureKit } from './fixture-kit.mjs';

const { root, self, fail, log, rel, tool, listFiles, upToDate, run, buildInto, jdk } = fixtureKit('build-fixtures-debuginfo', import.meta.url);

const outDir = path.join(root, 'fixtures', 'build', 'debuginfo');

/** Builds a whole output directory under a temporary name, then renames it: a half-built group never looks fresh. */
/** A directory output, built under a temporary name that exists from the start. */
function buildDir(out, build) {
  buildInto(out, (tmp) => {
    fs.mkdirSync(tmp, { recursive: true });
    build(tmp);
  });
}

/** The NT_GNU_BUILD_ID of an ELF file, as `readelf -n` prints it. */
function buildIdOf(file) {
  const r = spawnSync(tool(process.env.READELF || 'readelf', 'apt-get install binutils'), ['-n', file], { encoding: 'utf8' });
  const m = /Build ID:\s*([0-9a-f]+)/.exec(r.stdout ?? '');
  if (!m) fail(`${rel(file)} has no build id`);
  return m[1];
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
  const home = jdk({ headers: true });
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
