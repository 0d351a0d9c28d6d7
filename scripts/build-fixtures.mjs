#!/usr/bin/env node
// Builds the test/demo fixtures into fixtures/build/ (gitignored):
//
//   fixtures/build/leaky_apis                  fixtures/c/leaky_apis.c
//   fixtures/build/steady                      fixtures/c/steady.c
//   fixtures/build/forker                      fixtures/c/forker.c
//   fixtures/build/cache_and_leak              fixtures/c/cache_and_leak.c
//   fixtures/build/long_runner                 fixtures/c/long_runner.c
//   fixtures/build/demo/libdemoregistry.so     fixtures/java/demo/native/demoregistry.cpp
//   fixtures/build/demo/classes/               fixtures/java/demo/src/**/*.java
//   fixtures/build/perfmap/classes/            fixtures/java/perfmap/src/**/*.java (a JVM run without the agent)
//
// C/C++ are built with -O2 -g and WITHOUT -fno-omit-frame-pointer on purpose:
// the profiler must unwind frames that have no frame pointer.  A target is
// skipped when all its outputs are newer than its sources (and this script).
//
// Usage: node scripts/build-fixtures.mjs [--force] [--quiet]
// Env: CC (default cc), CXX (default c++), JAVA_HOME (JDK for javac + JNI
// headers; default /usr/lib/jvm/java-17-openjdk-amd64, else derived from the
// javac on PATH).
import fs from 'node:fs';
import path from 'node:path';
import { fixtureKit } from './fixture-kit.mjs';

const { root, self, argv, fail, log, rel, which, listFiles, upToDate, run, buildInto, jdk } = fixtureKit('build-fixtures', import.meta.url);

const buildDir = path.join(root, 'fixtures', 'build');

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
  buildInto(out, (tmp) => run(compiler, [...C_FLAGS, ...extraFlags, '-o', tmp, src]));
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
  const home = jdk({ headers: true });
  fs.mkdirSync(outDir, { recursive: true });
  const includes = ['-I', path.join(home, 'include'), '-I', path.join(home, 'include', 'linux')];
  buildInto(out, (tmp) => run(compiler, [...CXX_FLAGS, ...includes, '-o', tmp, src]));
  log(`built ${rel(out)}`);
}

function buildJavaClasses(name) {
  const srcDir = path.join(root, 'fixtures', 'java', name, 'src');
  const sources = listFiles(srcDir, '.java');
  if (sources.length === 0) fail(`no Java sources under ${rel(srcDir)}`);
  const outDir = path.join(buildDir, name, 'classes');
  const outputs = sources.map((s) =>
    path.join(outDir, path.relative(srcDir, s).replace(/\.java$/, '.class')),
  );
  if (upToDate([...sources, self], outputs)) {
    log(`${rel(outDir)} is up to date`);
    return;
  }
  const javac = path.join(jdk({ headers: true }), 'bin', 'javac');
  fs.mkdirSync(path.dirname(outDir), { recursive: true });
  // --release 17 so the classes run on a JDK 17 `java` even if javac is newer.
  buildInto(outDir, (tmp) =>
    run(javac, ['--release', '17', '-g', '-encoding', 'UTF-8', '-Xlint:all', '-Xlint:-options', '-d', tmp, ...sources]),
  );
  log(`built ${rel(outDir)}`);
}

fs.mkdirSync(buildDir, { recursive: true });
buildCProgram('leaky_apis');
buildCProgram('steady');
buildCProgram('forker', ['-pthread']);
buildCProgram('cache_and_leak');
buildCProgram('long_runner');
buildDemoLibrary();
buildJavaClasses('demo');
buildJavaClasses('perfmap');
// Symbolization fixtures: stripped libraries with separate debug info, a JNI library deleted after loading.
run(process.execPath, [path.join(root, 'scripts', 'build-fixtures-debuginfo.mjs'), ...argv]);
// Memory-accounting fixtures (fragmentation, a Java heap that grows) and the hardening battery.
run(process.execPath, [path.join(root, 'scripts', 'build-fixtures-memory.mjs'), ...argv]);
run(process.execPath, [path.join(root, 'scripts', 'build-fixtures-hardening.mjs'), ...argv]);
// Memory that bypasses malloc or the shim: mmap, dlsym'd allocators, a second interposer, MappedByteBuffers.
run(process.execPath, [path.join(root, 'scripts', 'build-fixtures-mappings.mjs'), ...argv]);
