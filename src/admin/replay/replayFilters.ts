import type { DlqEntry } from './dlqEntry.ts';

/** Which dead letters a replay takes; every filter given must match. */
export interface ReplayFilters {
  /** `sluice.error.reason`: deserialize, schema, rule or processing. */
  reason?: string;
  /** `sluice.error.rule`: the name of the rule that rejected the record. */
  rule?: string;
  /** The original partition (`sluice.error.partition`). */
  partition?: number;
  /** Original offset range, inclusive (`sluice.error.offset`). */
  fromOffset?: bigint | number | string;
  toOffset?: bigint | number | string;
  /** Failure time range on `sluice.error.timestamp` (epoch ms): since inclusive, until exclusive. */
  since?: number;
  until?: number;
  /** The record key, as a UTF-8 string. */
  key?: string;
  /** Writer schema id (`sluice.error.schema.id`, else the id in the value's wire-format header). */
  schemaId?: number;
}

function wireSchemaId(value: Buffer | null): number | undefined {
  return value && value.length >= 5 && value[0] === 0 ? value.readUInt32BE(1) : undefined;
}

/** Whether the dead letter passes every filter given. */
export function matchesFilters(e: DlqEntry, f: ReplayFilters): boolean {
  if (f.reason !== undefined && e.headers['sluice.error.reason'] !== f.reason) return false;
  if (f.rule !== undefined && e.headers['sluice.error.rule'] !== f.rule) return false;
  if (f.partition !== undefined && e.origPartition !== f.partition) return false;
  if (f.fromOffset !== undefined && (e.origOffset === undefined || BigInt(e.origOffset) < BigInt(f.fromOffset)))
    return false;
  if (f.toOffset !== undefined && (e.origOffset === undefined || BigInt(e.origOffset) > BigInt(f.toOffset)))
    return false;
  if (f.since !== undefined && e.failedAt < f.since) return false;
  if (f.until !== undefined && e.failedAt >= f.until) return false;
  if (f.key !== undefined && e.record.key?.toString('utf8') !== f.key) return false;
  if (f.schemaId !== undefined) {
    const header = e.headers['sluice.error.schema.id'];
    const id = header ? Number(header) : wireSchemaId(e.record.value);
    if (id !== f.schemaId) return false;
  }
  return true;
}
