import type { DlqReason, SourceRecord } from '../topology/types.ts';

/**
 * The DLQ headers of SPEC §5, plus Kafka Connect's so existing tools read them. All UTF-8.
 * Messages are truncated: they describe the failure, never carry the record.
 */
export function dlqHeaders(args: {
  source: SourceRecord;
  topology: string;
  reason: DlqReason;
  rule?: string;
  message: string;
  schemaId?: number;
  replayCount?: number;
  now: number;
}): Record<string, string> {
  const message = args.message.length > 500 ? `${args.message.slice(0, 497)}...` : args.message;
  return {
    'sluice.error.reason': args.reason,
    'sluice.error.rule': args.rule ?? '',
    'sluice.error.message': message,
    'sluice.error.topic': args.source.topic,
    'sluice.error.partition': String(args.source.partition),
    'sluice.error.offset': args.source.offset,
    'sluice.error.timestamp': String(args.now),
    'sluice.error.topology': args.topology,
    'sluice.error.schema.id': args.schemaId === undefined ? '' : String(args.schemaId),
    'sluice.replay.count': String(args.replayCount ?? Number(args.source.headers['sluice.replay.count'] ?? 0)),
    '__connect.errors.topic': args.source.topic,
    '__connect.errors.partition': String(args.source.partition),
    '__connect.errors.offset': args.source.offset,
    '__connect.errors.exception.message': message,
  };
}

/** A record's own headers without the error headers of an earlier failure (a new one replaces them). */
export function withoutErrorHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => !k.startsWith('sluice.error.') && !k.startsWith('__connect.errors.')),
  );
}
