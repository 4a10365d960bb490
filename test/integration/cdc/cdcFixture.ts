import pg from 'pg';
import { type Config, pgConnection } from '../../../src/config/config.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { createAvroSerde, type AvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { applyOltpDdl, dropDatabase, ensureDatabase, type OltpTable } from '../../../src/shop/oltp/oltpDdl.ts';
import type { PostgresCdcSourceInput } from '../../../connectors/postgres/cdc/config.ts';
import { LSN_HEADER, SEQ_HEADER } from '../../../connectors/postgres/cdc/changeRecords.ts';
import { parseLsn } from '../../../connectors/postgres/cdc/lsn.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * A throwaway OLTP database, slot, publication, state topic and `oltp.*` topics under a unique
 * prefix per test; the slot is dropped at the end (a leftover slot pins WAL forever).
 */
export interface CdcFixture {
  cfg: Config;
  database: string;
  slot: string;
  input: PostgresCdcSourceInput;
  kafka: KafkaClient;
  serde: AvroSerde;
  topic(table: OltpTable): string;
  sql(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  /** A second session, for transactions held open beside the first. */
  client: pg.Client;
  other: pg.Client;
  count(table: OltpTable): Promise<number>;
  events(table: OltpTable): Promise<CdcEvent[]>;
  /** The slot's confirmed_flush_lsn. */
  confirmedFlush(): Promise<bigint>;
  currentLsn(): Promise<bigint>;
}

/** One record of an `oltp.*` topic, decoded. */
export interface CdcEvent {
  key: string;
  partition: number;
  offset: number;
  value: Record<string, unknown> | null;
  lsn: bigint;
  seq: number;
}

export async function withCdcFixture(fn: (f: CdcFixture) => Promise<void>): Promise<void> {
  const cfg = await realStack();
  const database = uniqueName('oltp_cdc').toLowerCase();
  const prefix = uniqueName('it_cdc').toLowerCase();
  const slot = prefix;
  await ensureDatabase(cfg, database);
  const client = new pg.Client(pgConnection(cfg, database));
  const other = new pg.Client(pgConnection(cfg, database));
  await client.connect();
  await other.connect();
  const kafka = createKafkaClient(cfg, 'it-cdc');
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const topic = (table: OltpTable) => `${prefix}.oltp.${table}`;
  const sql = async (text: string, values?: unknown[]) => (await client.query(text, values)).rows;
  try {
    await applyOltpDdl(client);
    await fn({
      cfg,
      database,
      slot,
      input: { database, slot, publication: slot, topicPrefix: `${prefix}.oltp.`, stateTopic: `${prefix}.cdc.state` },
      kafka,
      serde,
      topic,
      sql,
      client,
      other,
      count: (table) => topicCount(kafka, topic(table)),
      events: (table) => readEvents(cfg, kafka, serde, topic(table)),
      confirmedFlush: async () => {
        const rows = await sql('select confirmed_flush_lsn::text as l from pg_replication_slots where slot_name = $1', [
          slot,
        ]);
        return parseLsn(rows[0].l as string);
      },
      currentLsn: async () => parseLsn((await sql('select pg_current_wal_lsn()::text as l'))[0].l as string),
    });
  } finally {
    await dropSlotWhenFree(client, slot).catch((err) => console.error('could not drop slot', slot, err));
    await client.end().catch(() => {});
    await other.end().catch(() => {});
    await dropDatabase(cfg, database).catch(() => {});
    await deleteTopics(kafka, prefix);
    for (const s of (await registry.subjects().catch(() => [] as string[])).filter((x) => x.startsWith(`${prefix}.`)))
      await registry.deleteSubject(s).catch(() => {});
  }
}

/** Drops the slot once no walsender holds it (a killed client's walsender takes a moment to notice). */
async function dropSlotWhenFree(client: pg.Client, slot: string): Promise<void> {
  await eventually(
    async () => {
      const { rows } = await client.query('select active from pg_replication_slots where slot_name = $1', [slot]);
      if (!rows.length) return true;
      if (rows[0].active) return false;
      await client.query('select pg_drop_replication_slot($1)', [slot]);
      return true;
    },
    `slot ${slot} to be free to drop`,
    90_000,
  );
}

async function deleteTopics(kafka: KafkaClient, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const mine = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(`${prefix}.`));
  await admin.deleteTopics({ topics: mine }).catch(() => {});
  await admin.disconnect();
}

async function readEvents(cfg: Config, kafka: KafkaClient, serde: AvroSerde, topic: string): Promise<CdcEvent[]> {
  const records = await readAll(cfg, topic, kafka);
  const out: CdcEvent[] = [];
  for (const r of records) {
    const value = r.value === null ? null : ((await serde.decode(r.value)).value as Record<string, unknown>);
    out.push({
      key: r.key!,
      partition: r.partition,
      offset: Number(r.offset),
      value,
      lsn: parseLsn(r.headers[LSN_HEADER]),
      seq: Number(r.headers[SEQ_HEADER]),
    });
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Each key's events in their topic order (one partition per key). */
export function byKey(events: CdcEvent[]): Map<string, CdcEvent[]> {
  const out = new Map<string, CdcEvent[]>();
  for (const e of events) {
    let list = out.get(e.key);
    if (!list) out.set(e.key, (list = []));
    list.push(e);
  }
  return out;
}
