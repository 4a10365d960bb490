import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseError } from '@platformatic/kafka';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { isFenced } from '../../../src/kafka/isFenced.ts';
import { toKafkaJsError } from '../../../src/kafka/platformatic/toKafkaJsError.ts';

const { KafkaJSProtocolError } = kafkajs as unknown as Record<string, new (...args: unknown[]) => Error>;
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): { type: string; message: string };
};
/** kafkajs' error for a broker error code, as its producer throws it. */
const kafkajsError = (code: number) => new KafkaJSProtocolError(createErrorFromCode(code));

/** @platformatic/kafka's error for a response with error `code` (AddPartitionsToTxn), untranslated. */
const platformaticResponse = (code: number) => new ResponseError(24, 5, { '/results/0': [code, null] }, {});
const PRODUCER_FENCED = 90;
const INVALID_PRODUCER_EPOCH = 47;
const CONCURRENT_TRANSACTIONS = 51;

test('fenced: a newer producer with the same transactional id, from either client, wrapped or not', () => {
  assert.ok(isFenced(kafkajsError(INVALID_PRODUCER_EPOCH)));
  assert.ok(isFenced(new Error('retries exhausted', { cause: kafkajsError(INVALID_PRODUCER_EPOCH) })));
  assert.ok(isFenced(platformaticResponse(PRODUCER_FENCED)));
  assert.ok(isFenced(platformaticResponse(INVALID_PRODUCER_EPOCH)));
  assert.ok(isFenced(toKafkaJsError(platformaticResponse(PRODUCER_FENCED))));
});

test('not fenced: other broker errors and connection failures', () => {
  assert.ok(!isFenced(kafkajsError(16)));
  assert.ok(!isFenced(platformaticResponse(CONCURRENT_TRANSACTIONS)));
  assert.ok(!isFenced(new Error('connect ECONNREFUSED 127.0.0.1:9092')));
  assert.ok(!isFenced(undefined));
});
