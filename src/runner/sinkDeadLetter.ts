import type { Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { deadLetterOutput } from '../engine/deadLetter.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import type { Output, SinkRecordError, TopologyDefinition } from '../topology/types.ts';

/** The error a sink's refusal of one record is reported as (log line, or the failure with SLUICE_SINK_ERRORS=fail). */
export function sinkRecordError(output: Output, e: SinkRecordError): SluiceError {
  const src = output.source;
  const where = src ? `${src.topic}/${src.partition}@${src.offset}` : output.topic;
  return new SluiceError('SINK_RECORD_REJECTED', `${e.sink} cannot store the record from ${where}: ${e.message}`, {
    coordinates: src ? { topic: src.topic, partition: src.partition, offset: src.offset } : undefined,
    details: { sink: e.sink, code: e.code },
  });
}

/**
 * The dead letter of a record a sink can never take: its source record goes to `<source>.dlq`
 * (reason `sink`, the sink's name and error code in headers) and takes over the output's acks,
 * so the input commits once the dead letter is durable.
 */
export function sinkDeadLetterOutput(def: TopologyDefinition, output: Output, e: SinkRecordError, now: number): Output {
  const src = output.source!;
  const spec = def.sources.find((s) => s.topic === src.topic) ?? { topic: src.topic };
  return deadLetterOutput({
    source: src,
    dlqTopic: dlqTopicOf(spec),
    topology: def.name,
    reason: 'sink',
    message: `${e.sink}: ${e.code ? `${e.code} ` : ''}${e.message}`,
    now,
    acks: output.acks,
    headers: { 'sluice.error.sink': e.sink, 'sluice.error.sink.code': e.code ?? '' },
  });
}

const log = createLogger('runner');

/**
 * What the runner does with a record a sink refuses: its dead letter (to send), or nothing when
 * SLUICE_SINK_ERRORS=fail or the output has no source record — then its acks fail and the runner
 * stops without committing it.
 */
export function handleSinkRejection(
  def: TopologyDefinition,
  output: Output,
  e: SinkRecordError,
  sinkErrors: Config['sinkErrors'],
): Output | undefined {
  const err = sinkRecordError(output, e);
  if (!output.source || sinkErrors === 'fail') {
    for (const a of output.acks) a.fail(err);
    return undefined;
  }
  const fields = { code: err.code, topology: def.name, sink: e.sink, sqlstate: e.code, coordinates: err.coordinates };
  log.warn({ ...fields, err: e.message }, 'record dead-lettered by its sink');
  return sinkDeadLetterOutput(def, output, e, Date.now());
}
