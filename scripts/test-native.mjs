#!/usr/bin/env node
// Builds and runs the shim's C unit tests (native/test/test_*.c), each linked with the shim's sources
// minus the library's entry points (interpose.c, lifecycle.c), so the tests drive the units directly.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shimCflags, shimLibs, shimSources } from './build-native.mjs';

const nativeDir = fileURLToPath(new URL('../native/', import.meta.url));
const testDir = join(nativeDir, 'test');
const buildDir = join(nativeDir, 'build', 'test');
const cc = process.env.CC || 'cc';
mkdirSync(buildDir, { recursive: true });

// agent.c builds as stubs here (no JDK include path): the units are tested without a JVM.
const units = shimSources.filter((f) => !['interpose.c', 'lifecycle.c'].includes(f)).map((f) => join(nativeDir, f));
let failed = 0;
for (const test of readdirSync(testDir).filter((f) => /^test_.*\.c$/.test(f)).sort()) {
  const name = test.replace(/^test_/, '').replace(/\.c$/, '');
  const binary = join(buildDir, test.replace(/\.c$/, ''));
  const flags = shimCflags.filter((f) => f !== '-fvisibility=hidden');
  // A test with a shared object of its own (native/test/<name>_chain_lib.c): built without frame pointers, as
  // most system libraries are, and linked in.
  const library = readdirSync(testDir).find((f) => f === `${name}_chain_lib.c`);
  const linkLibrary = [];
  if (library) {
    const libraryName = `${name}chain`;
    execFileSync(cc, ['-O2', '-g', '-fPIC', '-shared', '-fomit-frame-pointer', '-o', join(buildDir, `lib${libraryName}.so`),
      join(testDir, library)], { stdio: 'inherit' });
    linkLibrary.push(`-L${buildDir}`, `-l${libraryName}`, `-Wl,-rpath,${buildDir}`);
  }
  execFileSync(cc, [...flags, '-o', binary, join(testDir, test), ...units, ...linkLibrary, ...shimLibs], { stdio: 'inherit' });
  console.log(`# ${test}`);
  const run = spawnSync(binary, [], { stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
if (failed) {
  console.error(`native tests: ${failed} test program(s) failed`);
  process.exit(1);
}
