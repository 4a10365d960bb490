import type { Ack, DlqReason, Output, SourceRecord } from '../topology/types.ts';
import { dlqHeaders, withoutErrorHeaders } from './dlqHeaders.ts';

/** Why and where a record is dead-lettered. */
export interface DeadLetter {
  source: SourceRecord;
  dlqTopic: string;
  topology: string;
  reason: DlqReason;
  message: string;
  rule?: string;
  schemaId?: number;
  now: number;
  /** The acks the dead letter takes over (released once it is durable). */
  acks: Ack[];
  /** More headers (a sink's name and error code). */
  headers?: Record<string, string>;
}

/**
 * The DLQ output of a record: its ORIGINAL key and bytes untouched, its own headers (tracing ids,
 * producers' metadata) with the error headers of an earlier failure replaced by this one's.
 */
export function deadLetterOutput(d: DeadLetter): Output {
  return {
    kind: 'dlq',
    reason: d.reason,
    topic: d.dlqTopic,
    key: d.source.key,
    value: d.source.value,
    raw: true,
    headers: {
      ...withoutErrorHeaders(d.source.headers),
      ...dlqHeaders({
        source: d.source,
        topology: d.topology,
        reason: d.reason,
        rule: d.rule,
        message: d.message,
        schemaId: d.schemaId,
        now: d.now,
      }),
      ...d.headers,
    },
    acks: d.acks,
    timestamp: d.source.timestamp,
    source: d.source,
  };
}
