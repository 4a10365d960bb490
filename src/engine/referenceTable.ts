import type { ReferenceTable } from '../topology/types.ts';

/**
 * A reference topic kept as a table (Kafka Streams' GlobalKTable): latest value per key,
 * tombstones delete. Fed by the runner's reference reader or by the test driver.
 */
export class MapReferenceTable implements ReferenceTable {
  private readonly rows = new Map<string, unknown>();
  has(key: string): boolean {
    return this.rows.has(key);
  }
  get(key: string): unknown {
    return this.rows.get(key);
  }
  get size(): number {
    return this.rows.size;
  }
  put(key: string, value: unknown): void {
    if (value === null || value === undefined) this.rows.delete(key);
    else this.rows.set(key, value);
  }
}

/** The key of a reference row: the configured field of the decoded value, as a string. */
export function referenceKey(value: unknown, field: string): string | undefined {
  const k = (value as Record<string, unknown> | null)?.[field];
  return k === null || k === undefined ? undefined : String(k);
}
