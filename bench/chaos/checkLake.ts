import { LAKE_QUARANTINE_TOPICS, LAKE_RAW_TOPICS, LAKE_STAGING_TOPICS } from '../../topologies/lake.ts';
import type { LakeObject, Snapshot } from './collect.ts';
import { check, type Check } from './report.ts';

/**
 * Section 5: per (zone, topic, partition) the lake objects cover the topic's records without gap
 * or overlap. Raw and quarantine records carry their offset; staging objects say their first and
 * last offset in their metadata and hold that many records. Offsets a read_committed reader never
 * sees (commit markers, aborted records under exactly_once) are not gaps: coverage is measured
 * against the records the topic shows.
 */

interface PartitionResult {
  zone: string;
  topic: string;
  partition: number;
  objects: number;
  records: number;
  uncovered: number;
  overlaps: number;
  duplicated: number;
  misnamed: number;
  countMismatch: number;
}

export function checkLake(snap: Snapshot): { checks: Check[]; facts: Record<string, unknown> } {
  const zones: [string, readonly string[]][] = [
    ['raw', LAKE_RAW_TOPICS],
    ['staging', LAKE_STAGING_TOPICS],
    ['quarantine', LAKE_QUARANTINE_TOPICS],
  ];
  const results: PartitionResult[] = [];
  const errors = snap.lake.filter((o) => o.error).map((o) => `${o.key}: ${o.error}`);
  for (const [zone, topics] of zones) {
    for (const topic of topics) {
      const visible = new Map<number, number[]>();
      for (const r of snap.read.records.get(topic) ?? []) {
        const list = visible.get(r.partition);
        if (list) list.push(r.offset);
        else visible.set(r.partition, [r.offset]);
      }
      const objects = snap.lake.filter((o) => o.zone === zone && o.topic === topic && !o.error);
      const partitions = new Set([...visible.keys(), ...objects.map((o) => o.partition)]);
      for (const p of partitions)
        results.push(
          checkPartition(
            zone,
            topic,
            p,
            visible.get(p) ?? [],
            objects.filter((o) => o.partition === p),
          ),
        );
    }
  }
  const sum = (f: (r: PartitionResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const bad = results.filter((r) => r.uncovered || r.overlaps || r.duplicated || r.misnamed || r.countMismatch);
  const byZone = (z: string) => results.filter((r) => r.zone === z).reduce((a, r) => a + r.objects, 0);
  return {
    checks: [
      check({
        section: 5,
        id: 'lake.gaps',
        name: 'S3: topic records in no object (gaps)',
        expected: '0',
        actual: String(sum((r) => r.uncovered)),
        pass: sum((r) => r.uncovered) === 0 && errors.length === 0,
        note: errors.length
          ? `${errors.length} objects unreadable: ${errors.slice(0, 2).join('; ')}`
          : `${snap.lake.length} objects (raw ${byZone('raw')}, ` +
            `staging ${byZone('staging')}, quarantine ${byZone('quarantine')})`,
      }),
      check({
        section: 5,
        id: 'lake.overlaps',
        name: 'S3: overlapping objects / records in two objects',
        expected: '0 / 0',
        actual: `${sum((r) => r.overlaps)} / ${sum((r) => r.duplicated)}`,
        pass: sum((r) => r.overlaps) === 0 && sum((r) => r.duplicated) === 0,
      }),
      check({
        section: 5,
        id: 'lake.names',
        name: 'S3: object name = first record offset; staging record counts = offsets covered',
        expected: '0 / 0',
        actual: `${sum((r) => r.misnamed)} / ${sum((r) => r.countMismatch)}`,
        pass: sum((r) => r.misnamed) === 0 && sum((r) => r.countMismatch) === 0,
      }),
    ],
    facts: {
      objects: snap.lake.length,
      partitions: results.length,
      problems: bad.slice(0, 20),
      errors: errors.slice(0, 10),
    },
  };
}

function checkPartition(
  zone: string,
  topic: string,
  partition: number,
  visible: number[],
  objects: LakeObject[],
): PartitionResult {
  const res: PartitionResult = {
    zone,
    topic,
    partition,
    objects: objects.length,
    records: visible.length,
    uncovered: 0,
    overlaps: 0,
    duplicated: 0,
    misnamed: 0,
    countMismatch: 0,
  };
  const ranges = objects
    .map((o) => {
      const start = Number(o.startOffset);
      if (o.offsets) {
        if (o.offsets[0] !== start) res.misnamed++;
        return { start, last: o.offsets.length ? Math.max(...o.offsets) : start - 1, offsets: o.offsets };
      }
      if (o.firstOffset !== undefined && o.firstOffset !== start) res.misnamed++;
      return { start, last: o.lastOffset ?? start + o.records - 1, records: o.records };
    })
    .sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++) if (ranges[i].start <= ranges[i - 1].last) res.overlaps++;
  const sorted = [...visible].sort((a, b) => a - b);
  const covered = new Map<number, number>();
  for (const r of ranges) {
    if (r.offsets) {
      for (const o of r.offsets) covered.set(o, (covered.get(o) ?? 0) + 1);
      continue;
    }
    // Staging: the records a reader sees in [start, last] are the object's records.
    let n = 0;
    for (const o of sorted)
      if (o >= r.start && o <= r.last) {
        covered.set(o, (covered.get(o) ?? 0) + 1);
        n++;
      }
    if (n !== r.records) res.countMismatch++;
  }
  for (const o of sorted) if (!covered.has(o)) res.uncovered++;
  for (const n of covered.values()) if (n > 1) res.duplicated += n - 1;
  return res;
}
