/**
 * The README's benchmark table from one `npm run bench` run's results (bench/results/latest.json):
 * Sluice's figure, its peer's from the same run, the ratio and the goal. A bench that did not run
 * or failed leaves its rows out.
 */
type Json = Record<string, any>;

const n = (x: unknown) => (typeof x === 'number' ? x.toLocaleString('en-US') : '—');
const r = (a: unknown, b: unknown) =>
  typeof a === 'number' && typeof b === 'number' && b ? `${(a / b).toFixed(2)}×` : '—';

export function benchTable(results: Json): string {
  const rows: string[][] = [];
  const topo = results.topology?.result as Json | undefined;
  const p = topo?.peers as Json | undefined;
  if (p?.sluice) {
    const s = p.sluice;
    const ks = p.kstreams;
    rows.push([
      'clickstream topology, records/s',
      n(s.recordsPerSecond),
      `Kafka Streams ${n(ks?.recordsPerSecond)}`,
      r(s.recordsPerSecond, ks?.recordsPerSecond),
      '≥ 1.0×',
    ]);
    rows.push([
      'CPU-s per 100k records',
      n(s.cpuSecondsPer100k),
      `Kafka Streams ${n(ks?.cpuSecondsPer100k)}`,
      r(s.cpuSecondsPer100k, ks?.cpuSecondsPer100k),
      '≤ 1.0×',
    ]);
    const sp = p.sluice_platformatic;
    if (sp) {
      const label = 'the same on @platformatic/kafka (SLUICE_KAFKA_CLIENT=platformatic), records/s';
      const cpu = '… its CPU-s per 100k records';
      rows.push([
        label,
        n(sp.recordsPerSecond),
        `Kafka Streams ${n(ks?.recordsPerSecond)}`,
        r(sp.recordsPerSecond, ks?.recordsPerSecond),
        '—',
      ]);
      rows.push([
        cpu,
        n(sp.cpuSecondsPer100k),
        `Kafka Streams ${n(ks?.cpuSecondsPer100k)}`,
        r(sp.cpuSecondsPer100k, ks?.cpuSecondsPer100k),
        '—',
      ]);
    }
    rows.push([
      "records/s vs a bare kafkajs loop (Sluice's client)",
      n(s.recordsPerSecond),
      n(p.kafkajs?.recordsPerSecond),
      r(s.recordsPerSecond, p.kafkajs?.recordsPerSecond),
      '≥ 0.8×',
    ]);
    rows.push([
      'records/s vs a bare @platformatic/kafka loop',
      n(s.recordsPerSecond),
      n(p.platformatic?.recordsPerSecond),
      r(s.recordsPerSecond, p.platformatic?.recordsPerSecond),
      '—',
    ]);
    rows.push(['peak RSS, MiB', n(s.peakRssMiB), `Kafka Streams ${n(ks?.peakRssMiB)}`, '', '< 300']);
    if (p.sluice_eos)
      rows.push([
        'exactly-once records/s',
        n(p.sluice_eos.recordsPerSecond),
        `at-least-once ${n(s.recordsPerSecond)}`,
        r(p.sluice_eos.recordsPerSecond, s.recordsPerSecond),
        '—',
      ]);
  }
  const wh = results.warehouse?.result as Json | undefined;
  if (wh?.appendRowsPerSecond) {
    rows.push([
      'warehouse append, rows/s',
      n(wh.appendRowsPerSecond),
      `plain COPY, same key ${n(wh.plainCopyWithKeyRowsPerSecond)}`,
      `${wh.appendVsPlainCopyWithKey}×`,
      '≥ 0.8×',
    ]);
    rows.push([
      'warehouse append vs COPY into a table without index',
      n(wh.appendRowsPerSecond),
      n(wh.plainCopyRowsPerSecond),
      `${wh.appendVsPlainCopy}×`,
      '—',
    ]);
    rows.push([
      'warehouse upsert, rows/s',
      n(wh.upsertRowsPerSecond),
      `plain COPY ${n(wh.plainCopyRowsPerSecond)}`,
      `${wh.upsertVsPlainCopy}×`,
      '≥ 0.5×',
    ]);
    rows.push([
      'warehouse append vs multi-row INSERT',
      n(wh.appendRowsPerSecond),
      n(wh.multiRowInsertRowsPerSecond),
      `${wh.appendVsMultiRowInsert}×`,
      '—',
    ]);
  }
  const s3 = results.s3?.result as Json | undefined;
  if (s3?.inputMiBps) rows.push(['S3 sink, MiB/s of records (Avro objects)', n(s3.inputMiBps), '', '', '—']);
  const feed = results.feed?.result as Json | undefined;
  if (feed?.p99Ms !== undefined)
    rows.push(['feed latency p50 / p99, ms (1k records/s)', `${feed.p50Ms} / ${feed.p99Ms}`, '', '', '—']);
  const e2e = (results.e2e?.result as Json | undefined)?.passes?.[0] as Json | undefined;
  if (e2e?.latencyMs) {
    rows.push([
      'end-to-end p50 / p99, ms (1k events/s, click → WebSocket)',
      `${e2e.latencyMs.p50} / ${e2e.latencyMs.p99}`,
      '',
      '',
      'p99 < 100',
    ]);
    if (e2e.hopsMs)
      rows.push([
        '… of which click → silver, p50 / p99',
        `${e2e.hopsMs.sentToSilver.p50} / ${e2e.hopsMs.sentToSilver.p99}`,
        '',
        '',
        '—',
      ]);
    if (e2e.runnerRssMiB)
      rows.push(["end-to-end runners' peak RSS, MiB (metrics + clickstream)", n(e2e.runnerRssMiB.total), '', '', '—']);
  }
  const head = `Measured ${String(results.at ?? '').slice(0, 10)} on ${results.machine ?? 'this machine'}.`;
  return [
    head,
    '',
    '| measure | Sluice | peer, same run | ratio | goal |',
    '|---|---|---|---|---|',
    ...rows.map((c) => `| ${c.join(' | ')} |`),
  ].join('\n');
}
