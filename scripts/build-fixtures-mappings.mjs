#!/usr/bin/env node
// Builds the fixtures of memory that bypasses malloc or the shim (issue #10) into fixtures/build/ (gitignored):
//
//   fixtures/build/mmap_leaks                          fixtures/c/mmap_leaks.c (mmap leaks, partial munmap, mremap,
//                                                      and their look-alikes: churn, a plateau)
//   fixtures/build/realloc_lineage                     fixtures/c/realloc_lineage.c (a buffer renewed by realloc)
//   fixtures/build/dlsym_leak                          fixtures/c/dlsym_leak.c (malloc and mmap looked up with dlsym)
//   fixtures/build/libnext_interposer.so               fixtures/c/next_interposer.c (an interposer that uses
//                                                      dlsym(RTLD_NEXT), preloaded after the shim)
//   fixtures/build/mappings/libnativemappings.so       fixtures/java/mappings/native/nativemappings.c (JNI mmap)
//   fixtures/build/mappings/classes/                   fixtures/java/mappings/src/**/*.java (MappedByteBuffer, JNI)
//   fixtures/build/attach/liblateleak.so               fixtures/java/attach/native/lateleak.c (JNI, loaded late)
//   fixtures/build/attach/classes/                     fixtures/java/attach/src/**/*.java (a JVM to attach to)
//
// C is built with -O2 -g, no frame pointers, like the other fixtures. A target is skipped when all its outputs are
// newer than its sources (and this script). (fixtures/python/ctypes_leak.py needs no build.)
//
// Usage: node scripts/build-fixtures-mappings.mjs [--force] [--quiet]
// Env: CC (default cc), JAVA_HOME (JDK for javac and jni.h; default /usr/lib/jvm/java-17-openjdk-amd64).
import fs from 'node:fs';
import path from 'node:path';
import { fixtureKit } from './fixture-kit.mjs';

const { root, self, fail, log, rel, tool, listFiles, upToDate, run, buildInto, jdk } = fixtureKit('build-fixtures-mappings', import.meta.url);

const buildDir = path.join(root, 'fixtures', 'build');
const C_FLAGS = ['-std=c11', '-O2', '-g', '-Wall', '-Wextra'];

function buildC(source, out, flags) {
  if (upToDate([source, self], [out])) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const cc = tool(process.env.CC || 'cc', 'apt-get install build-essential');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  buildInto(out, (tmp) => run(cc, [...C_FLAGS, ...flags, '-o', tmp, source]));
  log(`built ${rel(out)}`);
}

function buildJavaClasses(name = 'mappings') {
  const srcDir = path.join(root, 'fixtures', 'java', name, 'src');
  const sources = listFiles(srcDir, '.java');
  if (sources.length === 0) fail(`no Java sources under ${rel(srcDir)}`);
  const out = path.join(buildDir, name, 'classes');
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

const c = (name) => path.join(root, 'fixtures', 'c', name);
fs.mkdirSync(buildDir, { recursive: true });
buildC(c('mmap_leaks.c'), path.join(buildDir, 'mmap_leaks'), []);
buildC(c('realloc_lineage.c'), path.join(buildDir, 'realloc_lineage'), []);
buildC(c('dlsym_leak.c'), path.join(buildDir, 'dlsym_leak'), ['-ldl']);
buildC(c('next_interposer.c'), path.join(buildDir, 'libnext_interposer.so'), ['-fPIC', '-shared', '-ldl']);
const home = jdk({ headers: true });
buildC(path.join(root, 'fixtures', 'java', 'mappings', 'native', 'nativemappings.c'), path.join(buildDir, 'mappings', 'libnativemappings.so'),
  ['-fPIC', '-shared', '-I', path.join(home, 'include'), '-I', path.join(home, 'include', 'linux')]);
buildJavaClasses();
// leakhunt attach (issue #13): a JVM that loads its JNI library only after the attach, and leaks through libzip.
buildC(path.join(root, 'fixtures', 'java', 'attach', 'native', 'lateleak.c'), path.join(buildDir, 'attach', 'liblateleak.so'),
  ['-fPIC', '-shared', '-I', path.join(home, 'include'), '-I', path.join(home, 'include', 'linux')]);
buildJavaClasses('attach');
