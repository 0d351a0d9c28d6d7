/**
 * report.json's push read back (by `leakhunt report`, which keeps it in the report it makes again): taken only when
 * it has the shape leakhunt writes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pushReportOf, type PushReport } from '../../src/pipeline/model.js';

const allSent: PushReport = { backend: 'pyroscope', endpoint: 'http://pyroscope:4040/ingest', pushed: 30, retried: 2, left: 0, rejected: 0, thinned: 0 };
const someLeft: PushReport = {
  backend: 'parca', endpoint: 'http://parca:7070/api/profiles/writeraw', pushed: 12, retried: 3, left: 18, rejected: 1, thinned: 4,
  stopped: 'answered 401: no tenant',
};

describe('pushReportOf: report.json\'s push as read back', () => {
  test('what leakhunt writes is taken as it is', () => {
    assert.deepEqual(pushReportOf(JSON.parse(JSON.stringify(someLeft))), someLeft);
    assert.deepEqual(pushReportOf({ ...allSent }), allSent);
  });

  test('anything else is no push summary', () => {
    for (const damaged of [
      undefined, null, 'pushed', [], {}, { ...allSent, pushed: '30' }, { ...allSent, left: -1 }, { ...allSent, retried: 1.5 },
      { ...allSent, endpoint: 7 }, { ...allSent, backend: undefined }, { ...allSent, stopped: 401 }, { ...allSent, thinned: undefined },
    ]) {
      assert.equal(pushReportOf(damaged), undefined, JSON.stringify(damaged));
    }
  });
});
