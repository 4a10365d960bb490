import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { asSluiceError, isSluiceError, SluiceError } from '../../../src/core/errors.ts';
import { consumerTimings } from '../../../src/kafka/consumerTimings.ts';
import { isTransientKafkaError } from '../../../src/kafka/isTransientKafkaError.ts';
import { retryKafka } from '../../../src/kafka/retryKafka.ts';

// The error classes kafkajs throws (a CommonJS module: named imports do not all resolve) and
// broker errors exactly as kafkajs builds them from a response's error code.
const {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
} = kafkajs as unknown as Record<string, new (...args: unknown[]) => Error>;
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): { type: string; message: string };
};
const broker = (code: number) => new KafkaJSProtocolError(createErrorFromCode(code));

const TRANSIENT_CODES = {
  6: 'NOT_LEADER_OR_FOLLOWER',
  3: 'UNKNOWN_TOPIC_OR_PARTITION',
  5: 'LEADER_NOT_AVAILABLE',
  14: 'COORDINATOR_LOAD_IN_PROGRESS',
  15: 'COORDINATOR_NOT_AVAILABLE',
  16: 'NOT_COORDINATOR',
  27: 'REBALANCE_IN_PROGRESS',
  7: 'REQUEST_TIMED_OUT',
  13: 'NETWORK_EXCEPTION',
};
const FATAL_CODES = {
  29: 'TOPIC_AUTHORIZATION_FAILED',
  30: 'GROUP_AUTHORIZATION_FAILED',
  10: 'MESSAGE_TOO_LARGE',
  2: 'CORRUPT_MESSAGE',
  17: 'INVALID_TOPIC_EXCEPTION',
  36: 'TOPIC_ALREADY_EXISTS',
  37: 'INVALID_PARTITIONS',
  42: 'INVALID_REQUEST',
  35: 'UNSUPPORTED_VERSION',
  22: 'ILLEGAL_GENERATION',
  25: 'UNKNOWN_MEMBER_ID',
  1: 'OFFSET_OUT_OF_RANGE',
};

test('regression (demo died on NOT_LEADER after createTopics): leadership, coordinator, rebalance and timeout errors are transient', () => {
  for (const [code, name] of Object.entries(TRANSIENT_CODES))
    assert.equal(isTransientKafkaError(broker(Number(code))), true, name);
  assert.match(broker(6).message, /not the leader for that topic-partition/, 'the very error of the failed demo');
  assert.match(broker(3).message, /does not host this topic-partition/);
});

test('other broker errors are fatal', () => {
  for (const [code, name] of Object.entries(FATAL_CODES))
    assert.equal(isTransientKafkaError(broker(Number(code))), false, name);
});

test('connection and client-side timeouts are transient; authentication and programming errors are not', () => {
  assert.equal(
    isTransientKafkaError(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092')),
    true,
  );
  assert.equal(
    isTransientKafkaError(new KafkaJSRequestTimeoutError('Request Metadata(key: 3, version: 6) timed out')),
    true,
  );
  assert.equal(isTransientKafkaError(new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator')), true);
  assert.equal(isTransientKafkaError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), true);
  assert.equal(isTransientKafkaError(new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed')), false);
  assert.equal(isTransientKafkaError(new KafkaJSNonRetriableError('Invalid topic undefined')), false);
  assert.equal(isTransientKafkaError(new TypeError('x is not a function')), false);
  assert.equal(isTransientKafkaError(undefined), false);
  assert.equal(isTransientKafkaError('NOT_LEADER_FOR_PARTITION'), false, 'a bare string is no Kafka error');
});

test('wrappers are seen through: kafkajs retries exhausted, a SluiceError cause, an aggregate of transient errors', () => {
  const exhausted = new KafkaJSNumberOfRetriesExceeded(broker(6), { retryCount: 5, retryTime: 1000 });
  assert.equal(isTransientKafkaError(exhausted), true);
  assert.equal(
    isTransientKafkaError(new KafkaJSNumberOfRetriesExceeded(broker(29), { retryCount: 5, retryTime: 1000 })),
    false,
  );
  assert.equal(isTransientKafkaError(asSluiceError(broker(5), 'KAFKA_CONNECT_FAILED')), true);
  assert.equal(isTransientKafkaError(new SluiceError('EXTRACT_POSITION_INVALID', 'bad position')), false);
  assert.equal(isTransientKafkaError(new KafkaJSAggregateError('create topics', [broker(6), broker(5)])), true);
  assert.equal(
    isTransientKafkaError(new KafkaJSAggregateError('create topics', [broker(6), broker(37)])),
    false,
    'one fatal error makes the whole fatal',
  );
  assert.equal(
    isTransientKafkaError(new SluiceError('KAFKA_TRANSIENT', 'gave up', { cause: broker(6) })),
    false,
    'an exhausted retryKafka is not retried again',
  );
});

test('retryKafka retries transient errors until the call succeeds', async () => {
  let calls = 0;
  const v = await retryKafka(async () => {
    if (++calls < 3) throw broker(6);
    return 'offsets';
  }, 'end offsets of t');
  assert.equal(v, 'offsets');
  assert.equal(calls, 3);
});

test('retryKafka throws a fatal error at once, unchanged', async () => {
  let calls = 0;
  const fatal = broker(29);
  await assert.rejects(
    retryKafka(async () => {
      calls++;
      throw fatal;
    }, 'end offsets of t'),
    (e) => e === fatal,
  );
  assert.equal(calls, 1);
});

test('retryKafka gives up on a lasting transient error after its time bound, as SLUICE_ERR_KAFKA_TRANSIENT', async () => {
  let calls = 0;
  await assert.rejects(
    retryKafka(
      async () => {
        calls++;
        throw broker(6);
      },
      'end offsets of t',
      { maxElapsedMs: 300 },
    ),
    (e) => {
      assert.ok(isSluiceError(e, 'KAFKA_TRANSIENT'));
      assert.equal(e.retriable, true);
      assert.match(e.message, /^end offsets of t: still failing after .* not the leader/);
      return true;
    },
  );
  assert.ok(calls >= 2, `retried (${calls} calls)`);
});

test('consumers default to the configured session timeout, heartbeat a third of it, and an idle fetch wait under the heartbeat', () => {
  assert.deepEqual(consumerTimings({ kafkaSessionTimeoutMs: 6000 }), {
    sessionTimeout: 6000,
    heartbeatInterval: 2000,
    maxWaitTimeInMs: 1000,
  });
  assert.deepEqual(consumerTimings({ kafkaSessionTimeoutMs: 45_000 }), {
    sessionTimeout: 45_000,
    heartbeatInterval: 15_000,
    maxWaitTimeInMs: 5000,
  });
  assert.deepEqual(
    consumerTimings({ kafkaSessionTimeoutMs: 6000 }, { sessionTimeout: 30_000, heartbeatInterval: 3000 }),
    { sessionTimeout: 30_000, heartbeatInterval: 3000, maxWaitTimeInMs: 1500 },
    'a caller overrides',
  );
  assert.equal(consumerTimings({ kafkaSessionTimeoutMs: 6000 }, { rebalanceTimeout: 20_000 }).rebalanceTimeout, 20_000);
});
