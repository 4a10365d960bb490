import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseError } from '@platformatic/kafka';
import { TransactionFailures } from '../../../src/runner/transactionFailures.ts';

const PRODUCER_FENCED = 90;
const fenced = () => new ResponseError(24, 5, { '/results/0': [PRODUCER_FENCED, null] }, {});

test('a fenced transaction holds the partitions until released; other failures back off, growing', () => {
  const failures = new TransactionFailures('t', 6000);
  const first = failures.failed(new Error('connection closed'));
  assert.equal(first.kind, 'failed');
  const second = failures.failed(new Error('connection closed'));
  assert.ok(second.kind === 'failed' && first.kind === 'failed' && second.backoffMs > first.backoffMs);
  assert.equal(failures.holding, false, 'a broker hiccup holds nothing');
  const f = failures.failed(fenced());
  assert.deepEqual(f, { kind: 'fenced', waitMs: 12_000 }, 'two session timeouts: a heartbeat, then the rejoin');
  assert.equal(failures.holding, true);
  failures.release();
  assert.equal(failures.holding, false);
  failures.succeeded();
  assert.equal(failures.count, 0);
});

test('the hold ends by itself after the wait; two minutes of failures give up', () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  try {
    const failures = new TransactionFailures('t', 6000);
    failures.failed(fenced());
    mock.timers.tick(11_999);
    assert.equal(failures.holding, true);
    mock.timers.tick(2);
    assert.equal(failures.holding, false, 'no assignment came: fence and resume as after any failure');
    mock.timers.tick(120_000);
    assert.equal(failures.failed(new Error('still down')).kind, 'give-up');
  } finally {
    mock.timers.reset();
  }
});
