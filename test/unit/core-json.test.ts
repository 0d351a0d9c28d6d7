import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringifyReadable } from '../../src/core/json.js';

describe('stringifyReadable', () => {
  it('puts arrays of numbers on one line and leaves everything else as JSON.stringify indents it', () => {
    const value = {
      series: [1, -2.5, 3e-7, 1.5e21, 0, null], stack: ['a (x.c:1)', 'b'], nested: [{ n: [4, 5] }], empty: [],
      mixed: [1, 'two'], name: '[\n  1\n]',
    };
    const text = stringifyReadable(value);
    assert.deepEqual(JSON.parse(text), value, 'the same value');
    assert.match(text, /"series": \[1, -2\.5, 3e-7, 1\.5e\+21, 0, null\]/);
    assert.match(text, /"n": \[4, 5\]/);
    assert.match(text, /"stack": \[\n {4}"a \(x\.c:1\)",\n {4}"b"\n {2}\]/, 'strings keep a line each');
    assert.match(text, /"mixed": \[\n {4}1,\n {4}"two"\n {2}\]/, 'a mixed array is left alone');
    assert.equal(stringifyReadable({ a: 1 }), JSON.stringify({ a: 1 }, null, 2));
  });

  it('a name that looks like its mark stays a name', () => {
    const value = { function: '\u0001[1, 2]', stack: ['\u0001x"[3]'], series: [1, 2] };
    assert.deepEqual(JSON.parse(stringifyReadable(value)), value);
  });
});
