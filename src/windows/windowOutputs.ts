import type avro from 'avsc';
import { SluiceError } from '../core/errors.ts';
import type { Ack, Envelope, Output } from '../topology/types.ts';
import { changelogTopic, lateTopic } from './windowChangelog.ts';
import type { WindowSpec } from './windowSpec.ts';
import { storeKey, type WindowState } from './windowState.ts';

/** What a window store writes: changelog records, results, late records. */
export interface WindowOutputs {
  readonly changelog: string;
  readonly lateTopic: string;
  /** A changelog record (null: a tombstone) for input partition `p`, holding `acks`. */
  changelogRecord(p: number, key: string, value: unknown, acks: Ack[]): void;
  /** A provisional or final result of a window. */
  result(p: number, w: WindowState, final: boolean, now: number): void;
  /** A record for a window that is already closed, with its lateness in headers. */
  late(env: Envelope<unknown>, eventTime: number, windowEnd: number, wm: number): void;
}

export interface WindowOutputTargets {
  topology: string;
  emit(output: Output): void;
  outputSchema: { name: string; type: avro.Type };
  onLate?(store: string): void;
  /** The transaction of state-derived outputs of input partition `p` (exactly-once). */
  txnOf(p: number): string | undefined;
}

export function windowOutputs<T, A, R>(spec: WindowSpec<T, A, R>, rt: WindowOutputTargets): WindowOutputs {
  const changelog = changelogTopic(rt.topology, spec.store);
  const late = spec.lateTopic ?? lateTopic(rt.topology);
  const grace = spec.graceMs ?? 0;
  return {
    changelog,
    lateTopic: late,
    changelogRecord(p, key, value, acks) {
      const bytes = value === null ? null : Buffer.from(JSON.stringify(value));
      rt.emit({
        kind: 'changelog',
        topic: changelog,
        key,
        value: bytes,
        raw: true,
        partition: p,
        acks,
        txn: rt.txnOf(p),
      });
    },
    result(p, w, final, now) {
      const value = spec.result(w.group, { start: w.start, end: w.end }, w.acc as A, { final, emittedAt: now });
      if (!rt.outputSchema.type.isValid(value)) {
        const message = `window store ${spec.store}: result does not match ${rt.outputSchema.name}`;
        throw new SluiceError('SERDE_ENCODE_FAILED', message);
      }
      rt.emit({
        topic: spec.output,
        key: storeKey(w.start, w.group),
        value,
        schemaSubjectTopic: rt.outputSchema.name,
        acks: [],
        timestamp: now,
        txn: rt.txnOf(p),
      });
      w.lastEmitAt = now;
      w.resultPending = false;
    },
    late(env, eventTime, windowEnd, wm) {
      rt.onLate?.(spec.store);
      rt.emit({
        kind: 'late',
        topic: late,
        key: env.source.key,
        value: env.source.value,
        raw: true,
        headers: {
          ...env.source.headers,
          'sluice.late.store': spec.store,
          'sluice.late.event.time': String(eventTime),
          'sluice.late.window.end': String(windowEnd),
          'sluice.late.watermark': String(wm),
          'sluice.late.lateness.ms': String(wm - (windowEnd + grace)),
          'sluice.late.source.topic': env.source.topic,
          'sluice.late.source.partition': String(env.source.partition),
          'sluice.late.source.offset': env.source.offset,
        },
        acks: [env.ack],
        timestamp: env.source.timestamp,
        source: env.source,
      });
    },
  };
}
