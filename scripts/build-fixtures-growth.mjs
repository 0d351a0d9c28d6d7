#!/usr/bin/env node
// Builds the fixtures of leaks that hide from a plain reading of the profiles into fixtures/build/ (gitignored):
//
//   fixtures/build/growing_containers        fixtures/cpp/growing_containers.cpp (a vector, a string, a realloc'd
//                                            array, a hash table, a doubling buffer, churn under rising load)
//   fixtures/build/unseen_malloc             fixtures/c/unseen_malloc.c (a leak through __libc_malloc or a dlsym'd
//                                            malloc, which the allocator counts and the shim may not see)
//   fixtures/build/session_table             fixtures/c/session_table.c (a table whose sessions are replaced at
//                                            random: no leak; with --forget-every, one)
//   fixtures/build/containers/libeventhistory.so   fixtures/java/containers/native/eventhistory.cpp (JNI)
//   fixtures/build/containers/classes/       fixtures/java/containers/src/**/*.java
//
// C/C++ with -O2 -g and no frame pointers, like the other fixtures. A target is skipped when all its outputs are
// newer than its sources (and this script).
//
// Usage: node scripts/build-fixtures-growth.mjs [--force] [--quiet]
// Env: CC (default cc), CXX (default c++), JAVA_HOME (JDK for javac + JNI headers).
import fs from 'node:fs';
import path from 'node:path';
import { fixtureKit } from './fixture-kit.mjs';

const { root, self, log, rel, tool, listFiles, upToDate, run, buildInto, jdk, fail } = fixtureKit('build-fixtures-growth', import.meta.url);

const buildDir = path.join(root, 'fixtures', 'build');

function build(src, out, compile, headers = []) {
  if (upToDate([src, ...headers, self], [out])) {
    log(`${rel(out)} is up to date`);
    return;
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  buildInto(out, compile);
  log(`built ${rel(out)}`);
}

function buildPrograms() {
  const cc = () => tool(process.env.CC || 'cc');
  const cxx = () => tool(process.env.CXX || 'c++');
  build(path.join(root, 'fixtures', 'cpp', 'growing_containers.cpp'), path.join(buildDir, 'growing_containers'),
    (tmp) => run(cxx(), ['-std=c++17', '-O2', '-g', '-Wall', '-Wextra', '-o', tmp, path.join(root, 'fixtures', 'cpp', 'growing_containers.cpp')]));
  build(path.join(root, 'fixtures', 'c', 'unseen_malloc.c'), path.join(buildDir, 'unseen_malloc'),
    (tmp) => run(cc(), ['-std=c11', '-O2', '-g', '-Wall', '-Wextra', '-o', tmp, path.join(root, 'fixtures', 'c', 'unseen_malloc.c'), '-ldl']));
  build(path.join(root, 'fixtures', 'c', 'session_table.c'), path.join(buildDir, 'session_table'),
    (tmp) => run(cc(), ['-std=c11', '-O2', '-g', '-Wall', '-Wextra', '-o', tmp, path.join(root, 'fixtures', 'c', 'session_table.c')]),
    [path.join(root, 'fixtures', 'c', 'fixture.h')]);
}

function buildJvmVariant() {
  const src = path.join(root, 'fixtures', 'java', 'containers', 'native', 'eventhistory.cpp');
  const outDir = path.join(buildDir, 'containers');
  build(src, path.join(outDir, 'libeventhistory.so'), (tmp) => {
    const home = jdk({ headers: true });
    run(tool(process.env.CXX || 'c++'), ['-std=c++17', '-O2', '-g', '-Wall', '-Wextra', '-fPIC', '-shared', '-pthread',
      '-I', path.join(home, 'include'), '-I', path.join(home, 'include', 'linux'), '-o', tmp, src]);
  });
  const srcDir = path.join(root, 'fixtures', 'java', 'containers', 'src');
  const sources = listFiles(srcDir, '.java');
  if (sources.length === 0) fail(`no Java sources under ${rel(srcDir)}`);
  const classes = path.join(outDir, 'classes');
  if (upToDate([...sources, self], sources.map((s) => path.join(classes, path.relative(srcDir, s).replace(/\.java$/, '.class'))))) {
    log(`${rel(classes)} is up to date`);
    return;
  }
  const javac = path.join(jdk(), 'bin', 'javac');
  // --release 17 so the classes run on a JDK 17 `java` even if javac is newer.
  buildInto(classes, (tmp) => run(javac, ['--release', '17', '-g', '-encoding', 'UTF-8', '-Xlint:all', '-Xlint:-options', '-d', tmp, ...sources]));
  log(`built ${rel(classes)}`);
}

fs.mkdirSync(buildDir, { recursive: true });
buildPrograms();
buildJvmVariant();
