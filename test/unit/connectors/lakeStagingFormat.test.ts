import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lakeOutput, lakeTopology } from '../../../topologies/lake.ts';
import { loadConfig } from '../../../src/config/config.ts';
import type { SinkContext } from '../../../src/topology/types.ts';
import type { S3SinkConnector } from '../../../connectors/s3/s3SinkConnector.ts';

function sinkOf(def: ReturnType<typeof lakeTopology>, topic: string, env: Record<string, string>): S3SinkConnector {
  const out = def.outputs.find((o) => o.topic === topic);
  assert.ok(out?.sink, topic);
  const ctx = { topology: 'lake', config: loadConfig(env), schemaFor: () => undefined, schemaIds: new Map() };
  return out.sink(ctx as unknown as SinkContext) as S3SinkConnector;
}

test('SLUICE_LAKE_STAGING_FORMAT picks the staging zone format when the sink starts; raw stays Avro', () => {
  const def = lakeTopology({ rollRecords: 10 });
  const staging = lakeOutput('staging', 'silver.orders');
  const raw = lakeOutput('raw', 'oltp.orders');
  assert.equal(sinkOf(def, staging, {}).config.format, 'avro');
  assert.equal(sinkOf(def, staging, { SLUICE_LAKE_STAGING_FORMAT: 'parquet' }).config.format, 'parquet');
  assert.equal(sinkOf(def, staging, { SLUICE_LAKE_STAGING_FORMAT: 'parquet' }).config.rollRecords, 10);
  assert.equal(sinkOf(def, raw, { SLUICE_LAKE_STAGING_FORMAT: 'parquet' }).config.format, 'avro');
  // A format the topology names itself wins over the setting.
  const own = lakeTopology({ format: 'jsonl.gz' });
  assert.equal(sinkOf(own, staging, { SLUICE_LAKE_STAGING_FORMAT: 'parquet' }).config.format, 'jsonl.gz');
  assert.throws(() => loadConfig({ SLUICE_LAKE_STAGING_FORMAT: 'orc' }), /SLUICE_LAKE_STAGING_FORMAT/);
});
