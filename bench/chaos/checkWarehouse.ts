import { WAREHOUSE_ENTITIES } from '../../src/shop/warehouseModel.ts';
import type { AvroSerde } from '../../src/serde/avroSerde.ts';
import type { Snapshot } from './collect.ts';
import { check, type Check } from './report.ts';

/**
 * Section 4: the warehouse holds what silver holds. Per entity: bronze has one row per silver
 * record (no offset twice), silver and gold one row per distinct key (dim_customers: one current
 * version per key), and the silver table's `updated_at` per key is the newest in the topic.
 */
export function checkWarehouse(
  snap: Snapshot,
  serde: AvroSerde,
): { checks: Check[]; facts: Record<string, unknown>[] } {
  const facts: Record<string, unknown>[] = [];
  const problems: string[] = [];
  for (const e of WAREHOUSE_ENTITIES) {
    const records = snap.read.records.get(e.topic)!;
    const newest = new Map<string, number>();
    for (const r of records) {
      const v = serde.decodeSync(r.value).value as Record<string, unknown>;
      const k = String(v[e.key]);
      newest.set(k, Math.max(newest.get(k) ?? -Infinity, Number(v.updated_at)));
    }
    const w = snap.warehouse.find((x) => x.entity === e.entity)!;
    let stale = 0;
    for (const [k, u] of newest) if (w.silverUpdatedAt.get(k) !== u) stale++;
    const sinkDlq = snap.errorTopicCounts[`${e.topic}.warehouse-errors`] ?? 0;
    const gold = w.gold;
    const goldKeysOk = gold
      ? gold.keys === newest.size &&
        (gold.currentRows === undefined ? gold.rows === newest.size : gold.currentRows === newest.size)
      : false;
    const f = {
      entity: e.entity,
      topicRecords: records.length,
      distinctKeys: newest.size,
      bronzeRows: w.bronzeRows,
      bronzeDistinctOffsets: w.bronzeDistinctOffsets,
      silverRows: w.silverRows,
      staleSilverRows: stale,
      gold,
      sinkDeadLetters: sinkDlq,
      error: w.error,
    };
    facts.push(f);
    if (w.error) problems.push(`${e.entity}: ${w.error}`);
    else {
      if (w.bronzeRows !== records.length || w.bronzeDistinctOffsets !== w.bronzeRows)
        problems.push(`bronze.${e.entity} ${w.bronzeRows} rows for ${records.length} records`);
      if (w.silverRows !== newest.size)
        problems.push(`silver.${e.entity} ${w.silverRows} rows for ${newest.size} keys`);
      if (stale) problems.push(`silver.${e.entity} ${stale} rows not at their newest updated_at`);
      if (!goldKeysOk)
        problems.push(
          `${gold?.table} ${gold?.rows} rows / ${gold?.keys} keys${gold?.currentRows !== undefined ? ` / ${gold.currentRows} current` : ''} for ${newest.size} keys`,
        );
    }
  }
  const sinkDlq = facts.reduce((n, f) => n + (f.sinkDeadLetters as number), 0);
  return {
    checks: [
      check({
        section: 4,
        id: 'wh.rows',
        name: 'warehouse rows = distinct silver keys (silver, gold), = silver records (bronze)',
        expected: 'equal',
        actual: problems.length ? problems.join('; ') : facts.map((f) => `${f.entity} ${f.distinctKeys}`).join(', '),
        pass: problems.length === 0,
        note: sinkDlq
          ? `${sinkDlq} records dead-lettered by the warehouse sink (silver.*.warehouse-errors)`
          : undefined,
      }),
    ],
    facts,
  };
}
