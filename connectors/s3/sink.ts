import type { SinkFactory } from '../../src/topology/types.ts';
import { parseS3SinkConfig, type S3SinkConfigInput } from './config.ts';
import type { S3SinkDeps } from './connectBucket.ts';
import { createS3SinkConnector } from './s3SinkConnector.ts';

/**
 * S3 lake sink: micro-batches per source topic-partition, written to
 * `s3://BUCKET/<zone>/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<startOffset>.<ext>`
 * (SPEC §7). Topic, partition and start offset are the *source record's* (`output.source`), not
 * the output name, and dt/hour come from the batch's first record's Kafka timestamp (UTC).
 *
 * Lifecycle: the factory validates the config and does no I/O; `connect` resolves the bucket and
 * sweeps stale multipart uploads; `add` never blocks (it encodes the record into the partition's
 * open batch); a closed batch uploads with `@aws-sdk/lib-storage` (multipart, bounded memory) and
 * only after `upload.done()` are its records' acks released — commit-after-durable.
 *
 * Exactly once. A batch starts at the first record after the previous batch and closes on
 * deterministic rules: `rollRecords`, `rollBytes` (exact encoded size), a change of event-time
 * span (`rollEventTimeMs`, dividing an hour). Replaying the same records therefore rebuilds the
 * same batches, and the same names: a retry or a restart (which re-delivers from the committed
 * offset, the start of the first batch not yet durable) overwrites, never duplicates.
 * Idle closes (`idleCloseMs`) and the shutdown flush are NOT reproducible. They stay safe because
 * (1) the closed object's records are committed once it is durable, so a restart resumes after
 * it, and (2) for the window between durable and committed (or a changed config), a partition's
 * first batch in each hour directory is only opened after listing the objects already there:
 * existing start offsets become forced batch boundaries, so replayed batches line up with — and
 * overwrite — what is there; and when the replay starts inside an existing object (its
 * `sluice-last-offset` metadata says so), the records it already holds are acknowledged without
 * being written again. Uploads to one name are serialised, so an older upload never lands after
 * a newer one.
 *
 * Assumptions and limits: re-delivery (an offset not above the last one seen) is taken as the
 * runner having reset its offset tracking (rebalance, consumer restart), so the open batch's acks
 * are dropped, not released. Memory holds each open batch's encoded records (≤ rollBytes) plus,
 * per upload, about partSize × (queueSize + 1). A Parquet batch holds its finished row groups
 * (compressed) plus the open row group's Avro bytes (buffer ≤ about 2 × parquetRowGroupBytes).
 *
 * The parts: `config` (schema), `layout` (object names), `rollRules` (batch boundaries),
 * `lakeRecord`, `writerSchemas`, `recordEncoder`, `blockBuffer` and `avroContainer` (object bytes),
 * `parquetSchema` and `parquetBody` (Parquet objects: typed columns, row groups),
 * `partitionBatches` (placing records), `directoryListing` (alignment with existing objects),
 * `batchUploads`, `uploadQueue` and `objectUpload` (making batches durable), `staleUploads`,
 * `connectBucket` and `s3SinkConnector` (the lifecycle).
 */

/**
 * A SinkFactory for the S3 lake. Validates `config` now (CONFIG_INVALID before any I/O); each
 * call of the factory makes one connector.
 *
 * @example
 *   outputs: [{ topic: 'lake.raw.oltp.orders', schema: 'oltp.orders', raw: true, sink: s3Sink({ zone: 'raw' }) }]
 *   { topic: 'lake.staging.silver.orders', schema: 'silver.orders', sink: s3Sink({ zone: 'staging' }) }
 */
export function s3Sink(config: S3SinkConfigInput = {}, deps: S3SinkDeps = {}): SinkFactory {
  const cfg = parseS3SinkConfig(config);
  return (ctx) => createS3SinkConnector(cfg, ctx, deps);
}
