#!/usr/bin/env node
// Builds the hardening fixtures (test/e2e/hardening-*.test.ts) into fixtures/build/hardening/ (gitignored):
//
//   hardening_dl, libhardening_dl_a.so, libhardening_dl_b.so   fixtures/c/hardening_dl.c, hardening_dl_lib.c (twice)
//   hardening_exits                                            fixtures/c/hardening_exits.c
//   hardening_exceptions                                       fixtures/c/hardening_exceptions.cpp
//   hardening_sigsegv                                          fixtures/c/hardening_sigsegv.c
//   hardening_vfork                                            fixtures/c/hardening_vfork.c
//   hardening_table                                            fixtures/c/hardening_table.c
//   hardening_setuid                                           fixtures/c/hardening_setuid.c
//   hardening_smallstack                                       fixtures/c/hardening_smallstack.c
//   hardening_forkstorm                                        fixtures/c/hardening_forkstorm.c
//   hardening_stopexec                                         fixtures/c/hardening_stopexec.c, linked -static
//                                                              (LD_PRELOAD must not load the shim into it)
//
// -O2 -g without frame pointers, like the other fixtures. Each output is rebuilt when it is older than its
// sources or this script; written under a temporary name, then renamed.
//
// Usage: node scripts/build-fixtures-hardening.mjs [--force] [--quiet]
// Env: CC (default cc), CXX (default c++).
import fs from 'node:fs';
import path from 'node:path';
import { fixtureKit } from './fixture-kit.mjs';

const { root, self, fail, log, rel, tool, upToDate, run } = fixtureKit('build-fixtures-hardening', import.meta.url);

const sourceDir = path.join(root, 'fixtures', 'c');
const outDir = path.join(root, 'fixtures', 'build', 'hardening');

const C_FLAGS = ['-std=c11', '-O2', '-g', '-Wall', '-Wextra'];
const CXX_FLAGS = ['-std=c++17', '-O2', '-g', '-Wall', '-Wextra'];

/** One output from its sources: `compile(tmp)` builds it under a temporary name. */
function build(output, sources, compile) {
  const out = path.join(outDir, output);
  const inputs = sources.map((s) => path.join(sourceDir, s));
  for (const input of inputs) if (!fs.existsSync(input)) fail(`missing source ${rel(input)}`);
  if (upToDate([...inputs, self], out)) {
    log(`${rel(out)} is up to date`);
    return;
  }
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  try {
    compile(tmp, inputs);
    fs.renameSync(tmp, out);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  log(`built ${rel(out)}`);
}

const cc = () => tool(process.env.CC || 'cc');
const cxx = () => tool(process.env.CXX || 'c++');
const program = (name, extra = []) =>
  build(name, [`${name}.c`], (tmp, [src]) => run(cc(), [...C_FLAGS, '-o', tmp, src, ...extra]));

fs.mkdirSync(outDir, { recursive: true });
program('hardening_dl', ['-ldl']);
build('libhardening_dl_a.so', ['hardening_dl_lib.c'], (tmp, [src]) => run(cc(), [...C_FLAGS, '-fPIC', '-shared', '-o', tmp, src]));
build('libhardening_dl_b.so', ['hardening_dl_lib.c'], (tmp, [src]) =>
  run(cc(), [...C_FLAGS, '-DHARDENING_LIB_B', '-fPIC', '-shared', '-o', tmp, src]));
program('hardening_exits', ['-pthread']);
build('hardening_exceptions', ['hardening_exceptions.cpp'], (tmp, [src]) => run(cxx(), [...CXX_FLAGS, '-pthread', '-o', tmp, src]));
program('hardening_sigsegv', ['-pthread']);
program('hardening_vfork');
program('hardening_table');
program('hardening_setuid', ['-ldl']);
program('hardening_smallstack', ['-pthread']);
program('hardening_forkstorm', ['-pthread']);
// Static: the loader never reads LD_PRELOAD for it. Needs the C library's static archive (libc6-dev has it).
program('hardening_stopexec', ['-static']);
