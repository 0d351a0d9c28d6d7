import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { diffProfiles, diffStatus } from '../../src/analyse/diff.js';
import { defaultPlumbingPatterns } from '../../src/analyse/sites.js';
import type { HeapProfile, HeapProfileFrame } from '../../src/pprof/index.js';
import { renderDiffJson, renderDiffText } from '../../src/report/diff-text.js';

const frame = (functionName: string, fileName?: string, line?: number): HeapProfileFrame =>
  fileName ? { functionName, fileName, line: line ?? 1 } : { functionName, mappingFile: '/usr/lib/libc.so.6' };

const malloc = frame('malloc');
const opNew = frame('operator new(unsigned long)');
const main = frame('main', '/src/app.c', 90);

/** A profile in our sample-type order, or Go's with inuse first; each sample: stack, inuse bytes. */
function profile(samples: [HeapProfileFrame[], number][], order: 'leakhunt' | 'inuse-first' = 'leakhunt'): HeapProfile {
  const types = order === 'leakhunt'
    ? ['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space'] : ['inuse_space', 'inuse_objects'];
  const inuse = types.indexOf('inuse_space');
  return {
    sampleTypes: types.map((type) => ({ type, unit: type.endsWith('space') ? 'bytes' : 'count' })),
    timeNanos: 0n,
    durationNanos: 0n,
    samples: samples.map(([stack, bytes]) => {
      const values = types.map(() => 7);
      values[inuse] = bytes;
      return { stack, values, labels: {} };
    }),
  };
}

const leak = [malloc, frame('leak_fn', '/src/app.c', 10), main];
const cache = [malloc, frame('fill_cache', '/src/app.c', 20), main];
const freed = [malloc, frame('free_later', '/src/app.c', 30), main];
const fresh = [opNew, frame('std::vector<int, std::allocator<int> >::_M_realloc_insert(int&&)'), frame('new_thing(int)', '/src/thing.cc', 5), main];
const steady = [malloc, frame('steady_fn', '/src/app.c', 40), main];
const shrink = [malloc, frame('trim_fn', '/src/app.c', 50), main];

describe('diffProfiles', () => {
  const base = profile([[leak, 1000], [cache, 500], [freed, 300], [steady, 64], [shrink, 900]]);
  const later = profile([[leak, 5000], [cache, 500], [fresh, 2000], [steady, 64], [shrink, 100]], 'inuse-first');
  const diff = diffProfiles(base, later);

  test('totals of inuse_space, whatever the sample-type order', () => {
    assert.deepEqual(diff.totals, { baseBytes: 2764, laterBytes: 7664, deltaBytes: 4900 });
  });

  test('one site per non-plumbing frame, with its status and bytes, largest growth first, shrinks last', () => {
    assert.deepEqual(diff.sites.map((s) => [s.function, s.status, s.deltaBytes, s.baseBytes, s.laterBytes]), [
      ['leak_fn', 'grew', 4000, 1000, 5000],
      ['new_thing(int)', 'new', 2000, 0, 2000],
      ['fill_cache', 'same', 0, 500, 500],
      ['steady_fn', 'same', 0, 64, 64],
      ['free_later', 'gone', -300, 300, 0],
      ['trim_fn', 'shrank', -800, 900, 100],
    ]);
  });

  test('locations and stacks as describeFrame strings, innermost first', () => {
    const site = diff.sites[1]!;
    assert.equal(site.location, 'new_thing(int) (thing.cc:5)');
    assert.deepEqual(site.stack, [
      'operator new(unsigned long) (libc.so.6)', 'std::vector<int, std::allocator<int> >::_M_realloc_insert(int&&) (libc.so.6)',
      'new_thing(int) (thing.cc:5)', 'main (app.c:90)',
    ]);
  });

  test('samples of one site add up; the stack shown is the one that changed most', () => {
    const viaA = [malloc, frame('leak_fn', '/src/app.c', 10), frame('caller_a', '/src/app.c', 60), main];
    const viaB = [malloc, frame('leak_fn', '/src/app.c', 10), frame('caller_b', '/src/app.c', 70), main];
    const d = diffProfiles(profile([[viaA, 100], [viaB, 900]]), profile([[viaA, 2100], [viaB, 900]]));
    assert.equal(d.sites.length, 1);
    assert.equal(d.sites[0]!.deltaBytes, 2000);
    assert.equal(d.sites[0]!.stack[2], 'caller_a (app.c:60)');
  });

  test('--focus keeps only stacks with a matching frame; --ignore drops them', () => {
    const focused = diffProfiles(base, later, { focus: [/^leak_fn$/, /thing\.cc/] });
    assert.deepEqual(focused.sites.map((s) => s.function), ['leak_fn', 'new_thing(int)']);
    assert.deepEqual(focused.totals, { baseBytes: 1000, laterBytes: 7000, deltaBytes: 6000 });
    const ignored = diffProfiles(base, later, { ignore: [/^leak_fn/, /^trim_fn$/] });
    assert.deepEqual(ignored.sites.map((s) => s.function), ['new_thing(int)', 'fill_cache', 'steady_fn', 'free_later']);
    const both = diffProfiles(base, later, { focus: [/app\.c:90/], ignore: [/cache/] });
    assert.equal(both.sites.length, 5, 'every stack reaches main (app.c:90), all but the cache stay');
  });

  test('extra plumbing patterns move the site outwards', () => {
    const d = diffProfiles(base, later, { plumbingPatterns: [...defaultPlumbingPatterns, /^leak_fn$/] });
    assert.equal(d.sites[0]!.function, 'main');
    assert.equal(d.sites[0]!.location, 'main (app.c:90)');
  });

  test('identical profiles: everything the same, zero delta', () => {
    const d = diffProfiles(base, base);
    assert.ok(d.sites.every((s) => s.status === 'same' && s.deltaBytes === 0));
    assert.equal(d.totals.deltaBytes, 0);
  });

  test('zero-byte samples and empty stacks', () => {
    const d = diffProfiles(profile([[leak, 0], [[], 10]]), profile([[leak, 0], [[], 30]]));
    assert.deepEqual(d.sites.map((s) => [s.function, s.status, s.deltaBytes]), [['[empty stack]', 'grew', 20]]);
  });

  test('a profile without inuse_space contributes nothing', () => {
    const allocOnly: HeapProfile = { ...profile([[leak, 10]]), sampleTypes: [{ type: 'alloc_space', unit: 'bytes' }] };
    allocOnly.samples = [{ stack: leak, values: [10], labels: {} }];
    const d = diffProfiles(allocOnly, profile([[leak, 10]]));
    assert.equal(d.sites[0]!.status, 'new');
  });
});

test('diffStatus', () => {
  assert.equal(diffStatus(0, 5), 'new');
  assert.equal(diffStatus(5, 0), 'gone');
  assert.equal(diffStatus(5, 9), 'grew');
  assert.equal(diffStatus(9, 5), 'shrank');
  assert.equal(diffStatus(5, 5), 'same');
  assert.equal(diffStatus(0, 0), 'same');
});

describe('diff rendering', () => {
  const base = profile([[leak, 1024], [freed, 300]]);
  const later = profile([[leak, 5 * 1024 * 1024], [fresh, 2048]]);
  const diff = diffProfiles(base, later);

  test('text: totals line, a row per site, stacks of the growing, no colour codes when not asked', () => {
    const text = renderDiffText(diff, { basePath: 'a.pb.gz', laterPath: 'b.pb.gz' });
    const lines = text.split('\n');
    assert.equal(lines[0], 'in use: base 1.29 KiB → later 5.00 MiB, delta +5.00 MiB');
    assert.match(text, /  1 grew\s+\+5\.00 MiB\s+1\.00 KiB\s+5\.00 MiB  leak_fn \(app\.c:10\)/);
    assert.match(text, /  2 new\s+\+2\.00 KiB\s+0 B\s+2\.00 KiB  new_thing\(int\) \(thing\.cc:5\)/);
    assert.match(text, /  3 gone\s+-300 B\s+300 B\s+0 B  free_later/);
    assert.match(text, /#2 new_thing\(int\) — stack, innermost first:\n {4}operator new\(unsigned long\) \(libc\.so\.6\)\n {4}std::vector<…>::_M_realloc_insert/);
    assert.doesNotMatch(text, /\u001b\[/);
    assert.match(renderDiffText(diff, { basePath: 'a', laterPath: 'b', color: true }), /\u001b\[31m/);
  });

  test('text: --top and filters are said', () => {
    const text = renderDiffText(diff, { basePath: 'a', laterPath: 'b', top: 1, filtered: true });
    assert.match(text, /--focus\/--ignore/);
    assert.match(text, /2 more sites/);
    assert.doesNotMatch(text, /free_later/);
  });

  test('JSON: paths, totals and sites in the documented shape', () => {
    const json = JSON.parse(renderDiffJson(diff, { basePath: 'a.pb.gz', laterPath: 'b.pb.gz', top: 2 })) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ['base', 'later', 'totals', 'sites']);
    assert.equal(json.base, 'a.pb.gz');
    assert.deepEqual(json.totals, { baseBytes: 1324, laterBytes: 5 * 1024 * 1024 + 2048, deltaBytes: 5 * 1024 * 1024 + 2048 - 1324 });
    const sites = json.sites as Record<string, unknown>[];
    assert.equal(sites.length, 2);
    assert.deepEqual(Object.keys(sites[0]!), ['function', 'location', 'kind', 'stack', 'status', 'deltaBytes', 'baseBytes', 'laterBytes']);
    assert.deepEqual(sites[0]!.stack, ['malloc (libc.so.6)', 'leak_fn (app.c:10)', 'main (app.c:90)']);
  });
});
