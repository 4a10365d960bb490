import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storageFormatArgs } from '../../../src/stack/services/kafkaService.ts';

test('regression (CI: "argument --cluster-id/-t: expected one argument"): a cluster id starting with - stays the value of its flag', () => {
  const args = storageFormatArgs('-JvThcpiQ56GE2o8LlNnTw', '/tmp/server.properties');
  assert.ok(args.includes('--cluster-id=-JvThcpiQ56GE2o8LlNnTw'));
  assert.ok(
    !args.includes('-t') && !args.includes('-JvThcpiQ56GE2o8LlNnTw'),
    'never a separate argument argparse can take for an option',
  );
});
