#!/usr/bin/env node
// Builds the memory-accounting fixtures into fixtures/build/ (gitignored):
//
//   fixtures/build/fragmenter          fixtures/c/fragmenter.c (RSS grows from glibc fragmentation, live heap flat)
//   fixtures/build/heap/classes/       fixtures/java/heap/src/**/*.java (only the Java heap grows)
//   fixtures/build/accounting/classes/ fixtures/java/accounting/src/**/*.java (threads never ended; a mapped file read)
//
// C is built with -O2 -g, no frame pointers, like the other fixtures. A target is skipped when all its outputs
// are newer than its sources (and this script).
//
// Usage: node scripts/build-fixtures-memory.mjs [--force] [--quiet]
// Env: CC (default cc), JAVA_HOME (JDK for javac; default /usr/lib/jvm/java-17-openjdk-amd64, else the javac on PATH).
import fs from 'node:fs';
import path from 'node:path';
import { fixtureKit } from './fixture-kit.mjs';

const { root, self, fail, log, rel, tool, listFiles, upToDate, run, buildInto, jdk } = fixtureKit('build-fixtures-memory', import.meta.url);

const buildDir = path.join(root, 'fixtures', 'build');

function buildFragmenter() {
  const src = path.join(root, 'fixtures', 'c', 'fragmenter.c');
  const out = path.join(buildDir, 'fragmenter');
  if (upToDate([src, path.join(root, 'fixtures', 'c', 'fixture.h'), self], [out])) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const cc = tool(process.env.CC || 'cc', 'apt-get install build-essential');
  buildInto(out, (tmp) => run(cc, ['-std=c11', '-O2', '-g', '-Wall', '-Wextra', '-pthread', '-o', tmp, src]));
  log(`built ${rel(out)}`);
}

function buildJavaClasses(name) {
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

fs.mkdirSync(buildDir, { recursive: true });
buildFragmenter();
buildJavaClasses('heap');
buildJavaClasses('accounting');
