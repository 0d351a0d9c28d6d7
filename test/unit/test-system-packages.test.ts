/** The optional system packages of the end-to-end tests: skipped with what to install outside CI, required under CI=true. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { skipWithout, type SystemPackage } from '../e2e/system-packages.js';

const missing: SystemPackage = { apt: 'libexample1', what: 'libexample.so.1', installed: () => false };
const present: SystemPackage = { ...missing, installed: () => true };

test('a missing package skips its test outside CI, saying what to install; under CI=true the test runs (and fails)', () => {
  assert.equal(skipWithout(missing, {}), 'skipped: apt-get install libexample1 (required under CI=true)');
  assert.equal(skipWithout(missing, { CI: 'false' }), 'skipped: apt-get install libexample1 (required under CI=true)');
  assert.equal(skipWithout(missing, { CI: 'true' }), false);
  assert.equal(skipWithout(missing, { CI: '1' }), false);
  assert.equal(skipWithout(present, {}), false);
});
