import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Config, pgConnection } from '../../../src/config/config.ts';
import type { Customer } from '../../../src/domain/types.generated.ts';
import { createS3Client } from '../../../src/s3/s3Client.ts';
import { layerSchemas } from '../../../src/shop/warehouseModel.ts';
import { startRunnerProcess, type RunningProcess } from '../../../src/runner/runnerProcess.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import customers from '../../../topologies/customers.ts';
import { lakeTopology } from '../../../topologies/lake.ts';
import { warehouseTopology } from '../../../topologies/warehouse.ts';
import { runSluice } from '../../support/cli.ts';
import { customersSource } from '../../support/customersSource.ts';
import { readAll } from '../../support/kafkaHelpers.ts';
import { readLake } from '../../support/lake.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

const KEY = `it-pii-${randomBytes(12).toString('hex')}`;
const hmac = (v: string) => createHmac('sha256', KEY).update(v, 'utf8').digest('hex');

const ADA = { email: 'ada@example.com', full_name: 'Ada Lovelace' };
const ADA_AGAIN = { email: 'ada@example.com', full_name: 'Ada King' };
const NO_EMAIL = { email: null, full_name: 'Nobody Known' };

const TITLE =
  'personal data is hashed (HMAC, same input same hash) in silver, the S3 staging zone and the warehouse; ' +
  'raw zone and DLQ keep it; inspect hides it unless --show-pii';

test(TITLE, {
  timeout: 240_000,
}, async () => {
  const cfg: Config = { ...(await realStack()), httpPort: 0, piiKey: KEY };
  const prefix = uniqueName('it_pii');
  const schemaPrefix = uniqueName('it_pii_wh');
  const source = `${prefix}.oltp.customers`;
  const silver = `${prefix}.silver.customers`;
  const dlq = `${source}.dlq`;
  const { kafka, row, encode, serde } = await customersSource(cfg, source, { clientId: 'it-pii' });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: source,
    acks: -1,
    messages: [
      { key: '1', value: encode(row(1, ADA)) },
      { key: '2', value: encode(row(2, ADA_AGAIN)) },
      { key: '3', value: encode(row(3, NO_EMAIL as Partial<Customer>)) },
    ],
  });
  await producer.disconnect();

  const start = (def: Parameters<typeof prefixTopology>[0], name: string) =>
    startRunnerProcess(cfg, [prefixTopology(def, prefix)], {
      groupId: uniqueName(`it-pii-${name}`),
      commitIntervalMs: 200,
      feed: false,
    });
  const procs: RunningProcess[] = [];
  const client = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await client.connect();
  const s3 = createS3Client(cfg);
  const { silver: whSilver, gold: whGold } = layerSchemas(schemaPrefix);
  try {
    procs.push(await start(customers, 'customers'));
    procs.push(await start(lakeTopology({ rollRecords: 2, idleCloseMs: 300 }), 'lake'));
    procs.push(await start(warehouseTopology({ schemaPrefix, sink: { lingerMs: 100 } }), 'warehouse'));

    // Silver: hashed, the same email giving the same hash.
    const silverRecords = await eventually(
      async () => {
        const r = await readAll(cfg, silver, kafka);
        return r.length === 2 && r;
      },
      'two customers in silver',
      60_000,
    );
    const silverValues = silverRecords
      .map((r) => serde.decodeSync(r.value!).value as Customer)
      .sort((a, b) => a.customer_id - b.customer_id);
    assert.deepEqual(
      silverValues.map((c) => [c.customer_id, c.email, c.full_name, c.country]),
      [
        [1, hmac(ADA.email), hmac(ADA.full_name), 'DE'],
        [2, hmac(ADA.email), hmac(ADA_AGAIN.full_name), 'DE'],
      ],
    );

    // DLQ: the audit copy, original bytes with the original values.
    const [dead] = await eventually(async () => {
      const r = await readAll(cfg, dlq, kafka);
      return r.length === 1 && r;
    }, 'the customer without email in the DLQ');
    assert.equal((serde.decodeSync(dead.value!).value as Customer).full_name, NO_EMAIL.full_name);

    // S3 staging zone: hashed as silver is; raw zone: the source bytes as they came.
    const staged = await eventually(
      async () => {
        const objects = await readLake(s3, cfg.s3Bucket, `staging/${silver}/`);
        const records = objects.flatMap((o) => o.records as Customer[]);
        return records.length === 2 && records;
      },
      'two customers in the staging zone',
      60_000,
    );
    assert.deepEqual(staged.map((c) => c.email).sort(), [hmac(ADA.email), hmac(ADA.email)]);
    assert.deepEqual(staged.map((c) => c.full_name).sort(), [hmac(ADA.full_name), hmac(ADA_AGAIN.full_name)].sort());
    const raw = await eventually(
      async () => {
        const objects = await readLake(s3, cfg.s3Bucket, `raw/${source}/`);
        const records = objects.flatMap((o) => o.records as { value: Buffer }[]);
        return records.length === 3 && records;
      },
      'three source records in the raw zone',
      60_000,
    );
    const rawNames = raw.map((r) => (serde.decodeSync(r.value).value as Customer).full_name).sort();
    assert.deepEqual(rawNames, [ADA_AGAIN.full_name, ADA.full_name, NO_EMAIL.full_name].sort());
    const quarantined = await eventually(
      async () => {
        const objects = await readLake(s3, cfg.s3Bucket, `quarantine/${dlq}/`);
        const records = objects.flatMap((o) => o.records as { value: Buffer }[]);
        return records.length === 1 && records;
      },
      'the dead letter in the quarantine zone',
      60_000,
    );
    assert.equal((serde.decodeSync(quarantined[0].value).value as Customer).full_name, NO_EMAIL.full_name);

    // Warehouse: silver table and the SCD2 dimension hold the hashes.
    const rows = await eventually(
      async () => {
        const res = await client
          .query(`select customer_id, email, full_name from "${whSilver}".customers order by customer_id`)
          .catch(() => undefined);
        return res?.rows.length === 2 && res.rows;
      },
      'two customers in the warehouse',
      90_000,
    );
    assert.deepEqual(
      rows.map((r) => [Number(r.customer_id), r.email, r.full_name]),
      [
        [1, hmac(ADA.email), hmac(ADA.full_name)],
        [2, hmac(ADA.email), hmac(ADA_AGAIN.full_name)],
      ],
    );
    const dims = await eventually(
      async () => {
        const res = await client
          .query(`select email from "${whGold}".dim_customers where is_current`)
          .catch(() => undefined);
        return res?.rows.length === 2 && res.rows;
      },
      'two current customers in gold',
      60_000,
    );
    assert.deepEqual(
      dims.map((r) => r.email),
      [hmac(ADA.email), hmac(ADA.email)],
    );
  } finally {
    for (const p of procs) await p.stop();
    for (const s of Object.values(layerSchemas(schemaPrefix)))
      await client.query(`drop schema if exists "${s}" cascade`).catch(() => {});
    await client.end();
  }

  // inspect: the writer schema's marks hide the values, on silver and on the raw topic alike.
  const inspect = async (topic: string, showPii: boolean) => {
    const args = ['inspect', topic, '--from-beginning', '--json', ...(showPii ? ['--show-pii'] : [])];
    const run = await runSluice(args, { SLUICE_PII_KEY: KEY });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; value: Customer; piiMasked?: string[] })
      .sort((a, b) => a.value.customer_id - b.value.customer_id);
  };
  const rawHidden = await inspect(source, false);
  assert.deepEqual(
    rawHidden.map((r) => [r.value.email, r.value.full_name, r.value.country]),
    [
      ['[redacted]', '[redacted]', 'DE'],
      ['[redacted]', '[redacted]', 'DE'],
      [null, '[redacted]', 'DE'],
    ],
  );
  assert.deepEqual(rawHidden[0].piiMasked, ['email', 'full_name']);
  const rawShown = await inspect(source, true);
  assert.deepEqual(
    rawShown.map((r) => [r.value.email, r.value.full_name]),
    [
      [ADA.email, ADA.full_name],
      [ADA_AGAIN.email, ADA_AGAIN.full_name],
      [null, NO_EMAIL.full_name],
    ],
  );
  assert.equal(rawShown[0].piiMasked, undefined);
  const silverHidden = await inspect(silver, false);
  assert.ok(silverHidden.every((r) => r.value.email === '[redacted]' && r.value.full_name === '[redacted]'));
  const silverShown = await inspect(silver, true);
  assert.deepEqual(
    silverShown.map((r) => r.value.email),
    [hmac(ADA.email), hmac(ADA.email)],
  );
  const human = await runSluice(['inspect', source, '--from-beginning']);
  assert.equal(human.code, 0, human.stderr);
  assert.doesNotMatch(human.stdout, /ada@example\.com|Lovelace/);
  assert.match(human.stdout, /personal data hidden: email, full_name \(--show-pii shows it\)/);
});
