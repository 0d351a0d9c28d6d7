#!/usr/bin/env node
// Builds and runs the shim's C unit tests (native/test/test_*.c), each linked with the shim's sources
// minus the library's entry points (the interposers, lifecycle.c), so the tests drive the units directly.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { shimCflags, shimLibs, shimSources, writeLimitsHeader } from './build-native.mjs';

const nativeDir = fileURLToPath(new URL('../native/', import.meta.url));
const testDir = join(nativeDir, 'test');
const buildDir = join(nativeDir, 'build', 'test');
const cc = process.env.CC || 'cc';
mkdirSync(buildDir, { recursive: true });
writeLimitsHeader();

// agent.c builds as stubs here (no JDK include path): the units are tested without a JVM. The interposers are left
// out: a test program is not to have its own malloc, mmap or dlsym replaced.
const entryPoints = ['interpose.c', 'interpose_mmap.c', 'interpose_dlsym.c', 'lifecycle.c', 'attach.c'];
const units = shimSources.filter((f) => !entryPoints.includes(f)).map((f) => join(nativeDir, f));
// test_got.c patches a library's GOT: the same source built with a lazily bound PLT and with -fno-plt under full RELRO.
const gotTarget = join(testDir, 'got_target.c');
execFileSync(cc, ['-O1', '-fPIC', '-shared', '-Wl,-z,lazy', '-o', join(buildDir, 'libgot_plt.so'), gotTarget], { stdio: 'inherit' });
execFileSync(cc, ['-O1', '-fPIC', '-shared', '-fno-plt', '-Wl,-z,relro,-z,now', '-o', join(buildDir, 'libgot_noplt.so'), gotTarget], { stdio: 'inherit' });
const flags = shimCflags.filter((f) => f !== '-fvisibility=hidden');
// The units are compiled once, side by side, and every test links the same objects (each test compiling all of them
// again made this the slowest part of npm run test:unit).
const objectDir = join(buildDir, 'units');
mkdirSync(objectDir, { recursive: true });
const objects = await compileUnits(units);

async function compileUnits(sources) {
  const pending = [...sources];
  const compiled = [];
  const worker = async () => {
    for (let source = pending.shift(); source; source = pending.shift()) {
      const object = join(objectDir, basename(source).replace(/\.c$/, '.o'));
      await promisify(execFile)(cc, [...flags, '-c', '-o', object, source]);
      compiled.push(object);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
  return compiled.sort();
}

let failed = 0;
for (const test of readdirSync(testDir).filter((f) => /^test_.*\.c$/.test(f)).sort()) {
  const name = test.replace(/^test_/, '').replace(/\.c$/, '');
  const binary = join(buildDir, test.replace(/\.c$/, ''));
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
  execFileSync(cc, [...flags, '-o', binary, join(testDir, test), ...objects, ...linkLibrary, ...shimLibs], { stdio: 'inherit' });
  console.log(`# ${test}`);
  const run = spawnSync(binary, [buildDir], { stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
// shim.h's opening comment lists what the library exports: it must be what the built library really exports.
function listedExports() {
  const comment = readFileSync(join(nativeDir, 'shim.h'), 'utf8').split('*/')[0];
  const block = comment.slice(comment.indexOf(' * exports:') + ' * exports:'.length);
  return block.split('\n').map((line) => line.replace(/^\s*\*/, '').replace(/\(.*?\)/g, ''))
    .flatMap((line) => line.trim().split(/\s+/)).filter((word) => word && !word.endsWith('.c'));
}
const library = join(nativeDir, 'build', 'libleakhunt.so');
const nm = spawnSync('nm', ['-D', '--defined-only', library], { encoding: 'utf8' });
if (!existsSync(library) || nm.status !== 0) {
  console.log('# exports: skipped (no built library, or no nm)');
} else {
  const exported = new Set(nm.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[1] === 'T').map((f) => f[2]));
  const listed = new Set(listedExports());
  const unlisted = [...exported].filter((name) => !listed.has(name));
  // The JVM agent's entry point is there only when the library was built with a JDK's headers.
  const missing = [...listed].filter((name) => !exported.has(name) && name !== 'Agent_OnLoad');
  console.log('# exports');
  if (unlisted.length || missing.length) {
    console.log(`not ok - shim.h lists what the library exports: exported but not listed: ${unlisted.join(' ') || '-'}; listed but not exported: ${missing.join(' ') || '-'}`);
    failed++;
  } else {
    console.log(`ok - shim.h lists what the library exports (${exported.size} symbols)`);
  }
}
if (failed) {
  console.error(`native tests: ${failed} test program(s) or check(s) failed`);
  process.exit(1);
}
