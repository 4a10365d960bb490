import { asSluiceError, SluiceError } from '../../src/core/errors.ts';
import type { Output } from '../../src/topology/types.ts';
import type { S3SinkRuntime } from './runtime.ts';

/**
 * A record no object can hold goes to the runner's dead-letter queue, which takes over its acks
 * (Kafka Connect's errors.tolerance=all); without one (no runner) it fails, as before.
 * Names stay deterministic: the record is never part of a batch, so a batch it would have
 * opened starts at the next record written — and a replay, refusing the same record again,
 * opens the same batch under the same name.
 *
 * @example refuseRecord(rt, output, 'the value does not match the writer schema silver.orders at total_amount');
 */
export function refuseRecord(rt: S3SinkRuntime, o: Output, problem: string, err?: unknown): void {
  if (!rt.ctx.deadLetter) {
    const coordinates = coordinatesOf(o);
    failOutput(o, new SluiceError('SINK_RECORD_REJECTED', `${rt.name}: ${problem}`, { cause: err, coordinates }));
    return;
  }
  rt.stats.deadLettered++;
  rt.ctx.deadLetter(o, { sink: rt.name, message: problem });
}

/** Fails an output's acks with `err` (as a SluiceError of `code`, at the record's coordinates). */
export function failOutput(
  o: Output,
  err: unknown,
  code: 'S3_REQUEST_FAILED' | 'INTERNAL' | 'CONFIG_INVALID' = 'INTERNAL',
): void {
  const e = asSluiceError(err, code, { coordinates: coordinatesOf(o) });
  for (const a of o.acks) a.fail(e);
}

function coordinatesOf(o: Output) {
  return o.source ? { topic: o.source.topic, partition: o.source.partition, offset: o.source.offset } : undefined;
}
