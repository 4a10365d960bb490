import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MultipleErrors,
  NetworkError,
  ProtocolError,
  ResponseError,
  TimeoutError,
  UserError,
} from '@platformatic/kafka';
import { isTransientKafkaError, kafkaErrorType } from '../../../../src/kafka/isTransientKafkaError.ts';
import { toKafkaJsError } from '../../../../src/kafka/platformatic/toKafkaJsError.ts';

const translated = (err: unknown) => toKafkaJsError(err) as Error & { type?: string; retriable?: boolean };

test('a broker error gets the type kafkajs gives it, renamed codes included, and stays transient when it is', () => {
  const notLeader = translated(new ProtocolError('NOT_LEADER_OR_FOLLOWER'));
  assert.equal(notLeader.name, 'KafkaJSProtocolError');
  assert.equal(notLeader.type, 'NOT_LEADER_FOR_PARTITION');
  assert.equal(isTransientKafkaError(notLeader), true);
  assert.equal(translated(new ProtocolError('COORDINATOR_LOAD_IN_PROGRESS')).type, 'GROUP_LOAD_IN_PROGRESS');
  assert.equal(translated(new ProtocolError('NOT_COORDINATOR')).type, 'NOT_COORDINATOR_FOR_GROUP');
  const fenced = translated(new ProtocolError('INVALID_PRODUCER_EPOCH'));
  assert.equal(fenced.type, 'INVALID_PRODUCER_EPOCH');
  assert.equal(isTransientKafkaError(fenced), false);
});

test('a response with one broker error is that error; with several, transient only if all are', () => {
  const one = new ResponseError(2, 8, { '/topics/0/partitions/0': [3, null] }, {});
  assert.equal(kafkaErrorType(toKafkaJsError(one)), 'UNKNOWN_TOPIC_OR_PARTITION');
  assert.equal(isTransientKafkaError(toKafkaJsError(one)), true);
  const mixed = new ResponseError(2, 8, { '/a': [6, null], '/b': [29, null] }, {});
  assert.equal(translated(mixed).name, 'KafkaJSAggregateError');
  assert.equal(isTransientKafkaError(toKafkaJsError(mixed)), false);
  const both = new ResponseError(2, 8, { '/a': [6, null], '/b': [5, null] }, {});
  assert.equal(isTransientKafkaError(toKafkaJsError(both)), true);
});

test('retries that ran out: the last attempt decides, as the cause of KafkaJSNumberOfRetriesExceeded', () => {
  const chain = new MultipleErrors('listOffsets failed 4 times.', [
    new ProtocolError('LEADER_NOT_AVAILABLE'),
    new ProtocolError('NOT_LEADER_OR_FOLLOWER'),
  ]);
  const e = translated(chain);
  assert.equal(e.name, 'KafkaJSNumberOfRetriesExceeded');
  assert.equal(kafkaErrorType(e), 'NOT_LEADER_FOR_PARTITION');
  assert.equal(isTransientKafkaError(e), true);
  const closing = new MultipleErrors('fetch failed 2 times.', [
    new ProtocolError('NOT_LEADER_OR_FOLLOWER'),
    new UserError('Client closed while retrying fetch.'),
  ]);
  assert.equal(isTransientKafkaError(toKafkaJsError(closing)), false);
});

test('connection failures and timeouts are transient; a closed client is not', () => {
  const refused = translated(new NetworkError('Connection to 127.0.0.1:9092 failed.'));
  assert.equal(refused.name, 'KafkaJSConnectionError');
  assert.equal(isTransientKafkaError(refused), true);
  const timeout = translated(new TimeoutError('Request timed out', { canRetry: true }));
  assert.equal(timeout.name, 'KafkaJSRequestTimeoutError');
  assert.equal(isTransientKafkaError(timeout), true);
  const closed = translated(new NetworkError('Client is closed.', { canRetry: false, closed: true }));
  assert.equal(isTransientKafkaError(closed), false);
});

test('"Unknown topic" from a metadata request is UNKNOWN_TOPIC_OR_PARTITION; other usage errors are not Kafka conditions', () => {
  assert.equal(kafkaErrorType(toKafkaJsError(new UserError('Unknown topic orders.'))), 'UNKNOWN_TOPIC_OR_PARTITION');
  const usage = translated(new UserError('/options/topics must be array'));
  assert.equal(usage.name, 'KafkaJSError');
  assert.equal(isTransientKafkaError(usage), false);
});

test('errors that are not from @platformatic/kafka pass through untouched; the original stays the cause', () => {
  const plain = new Error('boom');
  assert.equal(toKafkaJsError(plain), plain);
  const original = new ProtocolError('REBALANCE_IN_PROGRESS');
  assert.equal(translated(original).cause, original);
});
