/** Suppressions files: the format, every rejection with its line number, and matching on stack frames. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { SiteReport } from '../../src/analyse/index.js';
import { LeakhuntError } from '../../src/core/errors.js';
import { frameName, matchSuppression, parseSuppressions, readSuppressions } from '../../src/gate/suppressions.js';

function site(fn: string, stack: string[]): SiteReport {
  return {
    rank: 1, function: fn, location: stack.find((f) => f.startsWith(fn)) ?? fn, stack, status: 'growing', shape: 'linear',
    leakRateBytesPerHour: 1e9, leakRateIntervalBytesPerHour: [9e8, 1.1e9], growthBytes: 1e6, liveBytes: 1e6, confidence: 1, series: [0, 5e5, 1e6],
  } as SiteReport;
}

function rejects(text: string, line: number, message: RegExp): void {
  assert.throws(() => parseSuppressions(text, 'known.supp'), (error: unknown) => {
    assert.ok(error instanceof LeakhuntError);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, new RegExp(`^known\\.supp:${line}: `));
    assert.match(error.message, message);
    assert.ok(!error.message.includes('\n'), 'one line');
    return true;
  });
}

describe('suppressions: format', () => {
  test('rules, comments, blank lines, CRLF, indentation', () => {
    const text = [
      '# known leaks', '', '  leak:^remember_session_forever\\b   # JIRA-123: capped by the LRU',
      'leak:libcrypto\\.so#still the pattern # OpenSSL thread error queues', '\t# indented comment', 'leak:a \\#b   # escaped hash',
    ].join('\r\n');
    const { rules, source } = parseSuppressions(text, 'known.supp');
    assert.equal(source, 'known.supp');
    assert.deepEqual(rules.map((r) => [r.line, r.pattern, r.reason]), [
      [3, '^remember_session_forever\\b', 'JIRA-123: capped by the LRU'],
      [4, 'libcrypto\\.so#still the pattern', 'OpenSSL thread error queues'],
      [6, 'a \\#b', 'escaped hash'],
    ]);
    assert.ok(rules[0]!.regex.test('remember_session_forever(char const*)'));
    assert.ok(rules[2]!.regex.test('a #b'));
  });

  test('an empty file or one of comments only has no rules', () => {
    assert.equal(parseSuppressions('', 'x').rules.length, 0);
    assert.equal(parseSuppressions('# nothing\n\n   \n', 'x').rules.length, 0);
  });

  test('a reason is required', () => {
    rejects('# ok\nleak:^f$', 2, /a reason is required/);
    rejects('leak:^f$   #   ', 1, /a reason is required/);
    rejects('leak:^f$#no space before the hash', 1, /a reason is required/);
  });

  test('bad lines name their line number', () => {
    rejects('\n\nleak:^f(  # unclosed', 3, /bad regular expression "\^f\("/);
    rejects('leak:   # only a reason', 1, /empty regular expression/);
    rejects('interceptor_via_fun:malloc  # lsan syntax', 1, /unknown suppression type "interceptor_via_fun"/);
    rejects('# c\nremember_session_forever  # no type', 2, /expected "leak:<regex>  # reason"/);
  });

  test('reading a file: unreadable is exit 2 with the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leakhunt-supp-'));
    try {
      const path = join(dir, 'ok.supp');
      writeFileSync(path, 'leak:^f$  # reason\n');
      assert.equal(readSuppressions(path).rules.length, 1);
      assert.throws(() => readSuppressions(join(dir, 'missing.supp')), (e: unknown) => e instanceof LeakhuntError && e.exitCode === 2 && /missing\.supp: cannot read/.test(e.message));
      writeFileSync(path, 'leak:^f$\n');
      assert.throws(() => readSuppressions(path), (e: unknown) => e instanceof LeakhuntError && e.message.startsWith(`${path}:1: `));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('suppressions: matching', () => {
  const mapLeak = site('remember_session_forever(char const*)', [
    'operator new(unsigned long) (libstdc++.so.6.0.30)',
    'std::_Rb_tree<std::string, std::pair<std::string const, Session>>::_M_get_node() (stl_tree.h:561)',
    'remember_session_forever(char const*) (demoregistry.cpp:70)',
    'Java_demo_NativeRegistry_rememberSession (demoregistry.cpp:109)',
  ]);
  const mallocLeak = site('leak_via_malloc', ['leak_via_malloc (leaky_apis.c:103)', 'leaky_round (leaky_apis.c:184)', 'main (leaky_apis.c:262)']);

  test('frameName drops only the trailing location', () => {
    assert.equal(frameName('remember_session_forever(char const*) (demoregistry.cpp:70)'), 'remember_session_forever(char const*)');
    assert.equal(frameName('operator new(unsigned long) (libstdc++.so.6.0.30)'), 'operator new(unsigned long)');
    assert.equal(frameName('0x7f00dead'), '0x7f00dead');
  });

  test('a rule matches any frame of the stack, by full text or by name alone', () => {
    const rules = parseSuppressions([
      'leak:^leak_via_malloc$   # anchored on the name',
      'leak:Java_demo_NativeRegistry   # an outer frame',
    ].join('\n'), 's');
    assert.equal(matchSuppression(mallocLeak, rules)?.rule.line, 1);
    assert.equal(matchSuppression(mallocLeak, rules)?.frame, 'leak_via_malloc (leaky_apis.c:103)');
    assert.equal(matchSuppression(mapLeak, rules)?.rule.line, 2);
    assert.equal(matchSuppression(mapLeak, parseSuppressions('leak:demoregistry\\.cpp:70  # by file and line', 's'))?.rule.line, 1);
    assert.equal(matchSuppression(mapLeak, parseSuppressions('leak:^remember_session_forever\\(char const\\*\\)$  # full name', 's'))?.rule.line, 1);
    assert.equal(matchSuppression(mapLeak, parseSuppressions('leak:^leak_via_malloc  # another site', 's')), undefined);
    assert.equal(matchSuppression(mapLeak, undefined), undefined);
  });

  test('the first matching rule wins', () => {
    const rules = parseSuppressions('leak:main  # everything\nleak:^leak_via_malloc  # specific', 's');
    assert.equal(matchSuppression(mallocLeak, rules)?.rule.line, 1);
  });
});
