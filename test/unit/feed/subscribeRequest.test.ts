import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SUBSCRIBED_METRICS, parseSubscribeRequest } from '../../../src/feed/subscribeRequest.ts';

const parse = (text: string) => parseSubscribeRequest(Buffer.from(text));

test('a subscribe with and without a cursor', () => {
  assert.deepEqual(parse('{"subscribe":["revenue_per_minute","funnel_5m"]}'), {
    ok: true,
    metrics: ['revenue_per_minute', 'funnel_5m'],
    cursor: undefined,
  });
  assert.deepEqual(parse('{"subscribe":["x"],"cursor":"abc"}'), { ok: true, metrics: ['x'], cursor: 'abc' });
  assert.deepEqual(parseSubscribeRequest([Buffer.from('{"subscribe":'), Buffer.from('["x"]}')]), {
    ok: true,
    metrics: ['x'],
    cursor: undefined,
  });
});

test('not JSON, or not a list of 1 to 100 metric names', () => {
  assert.equal((parse('subscribe') as { code: string }).code, 'INVALID_REQUEST');
  const tooMany = JSON.stringify({ subscribe: Array.from({ length: MAX_SUBSCRIBED_METRICS + 1 }, (_, i) => `m${i}`) });
  for (const text of ['null', '{}', '{"subscribe":"x"}', '{"subscribe":[]}', '{"subscribe":["a b"]}', tooMany]) {
    const req = parse(text);
    assert.equal(req.ok, false, text);
    assert.equal((req as { code: string }).code, 'INVALID_SUBSCRIBE', text);
  }
});
