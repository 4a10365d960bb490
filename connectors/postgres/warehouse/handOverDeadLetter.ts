import type { Ack, Output, SinkContext, SinkRecordError } from '../../../src/topology/types.ts';

/** The runner's dead-letter hand-over (`SinkContext.deadLetter`). */
export type DeadLetter = NonNullable<SinkContext['deadLetter']>;

/**
 * Hands a record's rows to the runner's dead-letter queue as one output (one dead letter, however
 * many tables refused it) under an ack of ours, and resolves once the dead letter is durable (the
 * runner releases that ack): no offset past the record is stored before. The rows' own acks
 * follow ours, so the runner's commit waits for the dead letter too. Rejects when the runner
 * fails it (SLUICE_SINK_ERRORS=fail, or the DLQ write failed).
 *
 * @example await handOverDeadLetter(ctx.deadLetter!, rowsOfTheRecord, { sink: 'silver.orders', message, code });
 */
export function handOverDeadLetter(deadLetter: DeadLetter, outputs: Output[], error: SinkRecordError): Promise<void> {
  return new Promise((resolve, reject) => {
    let refs = 1;
    let settled = false;
    const ack: Ack = {
      retain() {
        if (!settled) refs++;
      },
      release() {
        if (settled || --refs > 0) return;
        settled = true;
        for (const o of outputs) for (const a of o.acks) a.release();
        resolve();
      },
      fail(err) {
        if (settled) return;
        settled = true;
        for (const o of outputs) for (const a of o.acks) a.fail(err);
        reject(err);
      },
    };
    try {
      deadLetter({ ...outputs[0], acks: [ack] }, error);
    } catch (err) {
      ack.fail(err);
    }
  });
}
