import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Output, SinkConnector, SinkContext, SinkFactory } from '../../src/topology/types.ts';

/** Configuration of the JSON-lines file sink: the schema is validation, documentation and example. */
export const jsonlSinkConfigSchema = z
  .object({
    path: z.string().min(1).describe('The file records are appended to, one JSON object per line.'),
    flushRecords: z.number().int().positive().default(500).describe('Write once this many records wait.'),
  })
  .strict();

/**
 * Appends each output's value to a local file as JSON lines — the smallest complete sink, and the
 * example of the connector contract: the factory does no I/O, `connect` is idempotent, `add`
 * never blocks, and acks are released only once the record is durable (here: appended), which is
 * what lets the runner commit the input's offset.
 *
 * @example
 *   { topic: 'debug.customers', schema: 'silver.customers', sink: jsonlSink({ path: '/tmp/c.jsonl' }) }
 */
export function jsonlSink(input: z.input<typeof jsonlSinkConfigSchema>): SinkFactory {
  const cfg = jsonlSinkConfigSchema.parse(input);
  return (_ctx: SinkContext): SinkConnector => {
    let pending: Output[] = [];
    let writing: Promise<void> = Promise.resolve();
    const write = () => {
      const batch = pending;
      pending = [];
      const lines = batch.map((o) => `${JSON.stringify({ key: o.key?.toString() ?? null, value: o.value })}\n`);
      writing = writing
        .then(() => appendFile(cfg.path, lines.join('')))
        .then(() => {
          for (const o of batch) for (const a of o.acks) a.release(); // durable: the input may commit
        })
        .catch((err) => {
          for (const o of batch) for (const a of o.acks) a.fail(err); // never committed: re-delivered
        });
      return writing;
    };
    return {
      name: `jsonl:${path.basename(cfg.path)}`,
      connect: () => mkdir(path.dirname(cfg.path), { recursive: true }).then(() => {}),
      add(output) {
        pending.push(output);
        if (pending.length >= cfg.flushRecords) void write();
      },
      flush: () => (pending.length ? write() : writing),
      close: async () => {
        await write();
      },
    };
  };
}
