import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jsonlSink } from '../../../connectors/file/sink_jsonl.ts';
import { createAck } from '../../../src/engine/ack.ts';
import type { Output } from '../../../src/topology/types.ts';

test('the example sink appends JSON lines and releases each ack only once its record is written', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-jsonl-')), 'out', 'c.jsonl');
  const sink = jsonlSink({ path: file, flushRecords: 2 })({
    topology: 't',
    schemaFor: () => {
      throw new Error('unused');
    },
    schemaIds: new Map(),
  });
  await sink.connect();
  const done: number[] = [];
  const output = (i: number): Output => {
    const ack = createAck(
      () => done.push(i),
      () => {},
    );
    ack.retain(); // the sink's hold, as the engine's emit does
    ack.release(); // the engine's own reference
    return { topic: 'debug', key: String(i), value: { id: i }, acks: [ack] };
  };
  sink.add(output(1));
  assert.deepEqual(done, [], 'not acknowledged before it is written');
  sink.add(output(2));
  sink.add(output(3));
  await sink.flush();
  assert.deepEqual(done.sort(), [1, 2, 3]);
  await sink.close(1000);
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines,
    [1, 2, 3].map((i) => ({ key: String(i), value: { id: i } })),
  );
});
