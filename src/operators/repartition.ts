import { map, type OperatorFunction } from 'rxjs';
import type { Envelope, Output } from '../topology/types.ts';
import type { OperatorContext } from './operatorContext.ts';

export interface RepartitionOptions<T> {
  /** The group key: every record of one key lands in one partition of the repartition topic. */
  key(value: T): string;
  eventTime(value: T): number;
  /** How far behind the newest event time the upstream watermark trails (default 5 s). */
  outOfOrdernessMs?: number;
}

/**
 * Re-keys records through an internal topic (declared in outputs with `raw: true`), so every
 * record of one group key is aggregated in one place whichever runner owns it. Values travel as
 * JSON; headers carry the upstream partition's watermark, the event time, and the upstream
 * position with a copy number, so downstream windows take the minimum watermark over upstream
 * partitions and recognise a copy re-sent by a restarted stage 1.
 *
 * @example ops.repartition(REPARTITION_TOPIC, { key: (m) => m.group, eventTime: (m) => m.time })
 */
export function repartition<T>(
  ctx: OperatorContext,
  topic: string,
  opts: RepartitionOptions<T>,
): OperatorFunction<Envelope<T>, Output> {
  ctx.output(topic, `repartition("${topic}")`);
  const lag = opts.outOfOrdernessMs ?? 5000;
  // The input the last copy came from. By identity, not by offset: a record delivered again
  // (after a rewind or a rebalance, from the committed offset) is a new delivery whose copies
  // must get the same numbers as before, or downstream takes them for copies it never saw.
  let lastInput: object | undefined;
  let seq = 0;
  return ctx.graph.operator(
    { operator: 'repartition', label: `repartition(${topic})`, writes: [{ topic }] },
    map((env: Envelope<T>): Output => {
      const src = `${env.source.topic}/${env.source.partition}`;
      const ts = opts.eventTime(env.value);
      // Copies fanned out from one input delivery are numbered: (source offset, seq) only grows.
      seq = env.source === lastInput ? seq + 1 : 0;
      lastInput = env.source;
      // This upstream partition's watermark before the record: downstream takes the minimum.
      const wm = ctx.stores.advanceUpstreamWatermark(src, ts - lag);
      return {
        kind: 'repartition',
        topic,
        key: opts.key(env.value),
        value: Buffer.from(JSON.stringify(env.value)),
        raw: true,
        headers: {
          'sluice.src': src,
          'sluice.src.offset': env.source.offset,
          'sluice.src.seq': String(seq),
          'sluice.wm': String(wm),
          'sluice.ts': String(ts),
        },
        acks: [env.ack],
        timestamp: ts,
        source: env.source,
      };
    }),
  );
}
