/** The symbolizer protocols and the recovery from a symbolizer process that crashes or hangs. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAddr2lineOutput } from '../../src/symbolize/addr2line.js';
import { parseLlvmJsonLine } from '../../src/symbolize/llvm.js';
import { Symbolizer } from '../../src/symbolize/symbolizer.js';

let directory = '';
let fakeLlvm = '';

/**
 * Stands in for llvm-symbolizer: answers every request with a function named after its address, except that it
 * dies on 0xdead and hangs on 0xbeef (`exec`, so that killing it closes its pipes).
 */
const fakeLlvmScript = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "LLVM version 14.0.6"; exit 0; fi
while IFS= read -r line; do
  address=\${line##* }
  case "$address" in
    0xdead) exit 3 ;;
    0xbeef) exec sleep 30 ;;
  esac
  printf '{"Address":"%s","ModuleName":"x","Symbol":[{"Column":0,"FileName":"f.c","FunctionName":"fn_%s","Line":7}]}\\n' "$address" "$address"
done
`;

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'leakhunt-symbolizer-'));
  fakeLlvm = join(directory, 'llvm-symbolizer');
  writeFileSync(fakeLlvm, fakeLlvmScript);
  chmodSync(fakeLlvm, 0o755);
});

after(() => rmSync(directory, { recursive: true, force: true }));

const at = (address: bigint) => ({ objectPath: '/nonexistent/object with space', address });
const names = (frames: { functionName: string }[][]) => frames.map((f) => f.map((frame) => frame.functionName).join('|'));

test('parseLlvmJsonLine: inline levels in order, unknowns dropped, errors empty', () => {
  const line =
    '{"Address":"0x118c","ModuleName":"/t","Symbol":[' +
    '{"Column":13,"Discriminator":0,"FileName":"/t.c","FunctionName":"inner","Line":4,"StartAddress":"","StartFileName":"/t.c","StartLine":3},' +
    '{"Column":0,"Discriminator":0,"FileName":"/t.c","FunctionName":"outer","Line":8,"StartAddress":"0x1180","StartFileName":"","StartLine":7}]}';
  assert.deepEqual(parseLlvmJsonLine(line), [
    { functionName: 'inner', fileName: '/t.c', line: 4, column: 13 },
    { functionName: 'outer', fileName: '/t.c', line: 8 },
  ]);
  assert.deepEqual(
    parseLlvmJsonLine('{"Address":"0x1","ModuleName":"/t","Symbol":[{"Column":0,"FileName":"","FunctionName":"","Line":0}]}'),
    [],
  );
  assert.deepEqual(parseLlvmJsonLine('{"Symbol":[{"FileName":"??","FunctionName":"??","Line":0}]}'), []);
  assert.deepEqual(parseLlvmJsonLine('{"Symbol":[{"FileName":"/a.c","FunctionName":"","Line":9}]}'), [{ functionName: '', fileName: '/a.c', line: 9 }]);
  assert.deepEqual(parseLlvmJsonLine('{"Address":"0x10","Error":{"Message":"No such file or directory"},"ModuleName":"/x"}'), []);
  assert.deepEqual(parseLlvmJsonLine('not json'), []);
});

test('parseAddr2lineOutput: records per address, inline pairs, ?? and discriminators', () => {
  const output = [
    '0x000000000000118c',
    'inner_alloc',
    '/tmp/t.c:4',
    'outer_func',
    '/tmp/t.c:8 (discriminator 2)',
    '0x0000000000000001',
    '??',
    '??:0',
    '0x0000000000000020',
    '??',
    '/tmp/dir:with:colons/u.c:?',
    '0x0000000000000030',
    'ns::f(int)',
    '??:?',
    '',
  ].join('\n');
  const parsed = parseAddr2lineOutput(output);
  assert.deepEqual(parsed.get(0x118cn), [
    { functionName: 'inner_alloc', fileName: '/tmp/t.c', line: 4 },
    { functionName: 'outer_func', fileName: '/tmp/t.c', line: 8 },
  ]);
  assert.deepEqual(parsed.get(1n), []);
  assert.deepEqual(parsed.get(0x20n), [{ functionName: '', fileName: '/tmp/dir:with:colons/u.c' }]);
  assert.deepEqual(parsed.get(0x30n), [{ functionName: 'ns::f(int)' }]);
});

test('a crash costs only the request it died on; the rest is resent to a new process', async () => {
  const symbolizer = await Symbolizer.open({ backend: 'llvm-symbolizer', toolPath: fakeLlvm });
  try {
    assert.equal(symbolizer.backend, 'llvm-symbolizer');
    const frames = await symbolizer.symbolize([at(1n), at(0xdeadn), at(2n), at(3n)]);
    assert.deepEqual(names(frames), ['fn_0x1', '', 'fn_0x2', 'fn_0x3']);
    assert.deepEqual(frames[0], [{ functionName: 'fn_0x1', fileName: 'f.c', line: 7 }]);
    // The poisonous address is remembered as unknown, not retried.
    assert.deepEqual(names(await symbolizer.symbolize([at(0xdeadn), at(4n)])), ['', 'fn_0x4']);
    assert.deepEqual(symbolizer.takeNewWarnings(), []);
  } finally {
    await symbolizer.close();
  }
});

test('a hung symbolizer is killed after the response timeout and restarted', async () => {
  const symbolizer = await Symbolizer.open({ backend: 'llvm-symbolizer', toolPath: fakeLlvm, responseTimeoutMs: 300 });
  try {
    const frames = await symbolizer.symbolize([at(5n), at(0xbeefn), at(6n)]);
    assert.deepEqual(names(frames), ['fn_0x5', '', 'fn_0x6']);
    const warnings = symbolizer.takeNewWarnings();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /gave no answer for 300 ms/);
  } finally {
    await symbolizer.close();
  }
});

test('after too many crashes the process is given up, with one warning, and addr2line takes over', async () => {
  const symbolizer = await Symbolizer.open({ backend: 'llvm-symbolizer', toolPath: fakeLlvm });
  try {
    const requests = [at(0xdeadn), at(0xdeadn + 0x10000n)];
    // Each distinct poisonous address costs one restart; the fifth death is one too many.
    const poison = [0xdeadn, 0xdeadn, 0xdeadn, 0xdeadn, 0xdeadn].map((address, i) => ({ objectPath: `/nonexistent/${i}`, address }));
    const frames = await symbolizer.symbolize([...poison, at(7n), ...requests]);
    assert.deepEqual(names(frames).slice(0, 5), ['', '', '', '', '']);
    assert.notEqual(symbolizer.backend, 'llvm-symbolizer');
    const warnings = symbolizer.takeNewWarnings();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /died 4 times .*giving up/);
    // What it could not answer went to addr2line, which knows nothing about a missing object.
    assert.deepEqual(frames[5], []);
  } finally {
    await symbolizer.close();
  }
});

test('naming a backend that is missing is an environment error', async () => {
  await assert.rejects(Symbolizer.open({ backend: 'llvm-symbolizer', toolPath: join(directory, 'absent') }), (error: Error & { exitCode?: number }) => {
    assert.equal(error.exitCode, 4);
    return true;
  });
});
