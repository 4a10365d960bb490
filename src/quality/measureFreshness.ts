import pg from 'pg';
import { quoteIdent } from '../../connectors/postgres/warehouse/sqlQuote.ts';
import { readTopicRange } from '../admin/readTopicRange.ts';
import { type Config, pgConnection } from '../config/config.ts';
import { type KafkaClient, createKafkaClient } from '../kafka/createKafkaClient.ts';
import { type FreshnessSla, type FreshnessState, freshnessState } from './freshnessSlas.ts';

/**
 * Measures the freshness SLAs (`freshnessSlas.ts`) now: per topic the newest record timestamp,
 * per warehouse table `max(column)`, then the age and the state. A subject that could not be
 * measured (broker or database down, a query error) is in breach like an empty one: nobody can
 * say its data is fresh. It carries `problem: 'failed'` so the runner can log it.
 */

/** Why a subject has no age. */
export type FreshnessProblem = 'empty' | 'missing' | 'failed';

export interface FreshnessResult {
  subject: string;
  /** Where the time comes from: `record timestamp` or `max(<column>)`. */
  source: string;
  /** The newest time measured, ISO-8601 UTC. */
  newest: string | null;
  ageSeconds: number | null;
  warnAfterSeconds: number;
  breachAfterSeconds: number;
  state: FreshnessState;
  problem?: FreshnessProblem;
  message?: string;
}

/** What was found for one subject: the newest time in epoch ms, or why there is none. */
export type Newest = { ms: number } | { problem: FreshnessProblem; message: string };

/** Records read from the end of each partition: a few, as a topic written in transactions ends in commit markers. */
const TAIL_RECORDS = 20;
const KAFKA_READ_TIMEOUT_MS = 20_000;

/** `record timestamp` or `max(column)`. */
export function sourceOf(sla: FreshnessSla): string {
  return sla.kind === 'topic' ? 'record timestamp' : `max(${sla.column})`;
}

/**
 * The result of one subject from what was found, at `nowMs`. A newest time in the future (a
 * producer's clock ahead) counts as age 0.
 *
 * @example freshnessOf(sla, { ms: Date.now() - 60_000 }, Date.now()).ageSeconds // 60
 */
export function freshnessOf(sla: FreshnessSla, newest: Newest, nowMs: number): FreshnessResult {
  const base = {
    subject: sla.subject,
    source: sourceOf(sla),
    warnAfterSeconds: sla.warnAfterMs / 1000,
    breachAfterSeconds: sla.breachAfterMs / 1000,
  };
  if (!('ms' in newest))
    return {
      ...base,
      newest: null,
      ageSeconds: null,
      state: 'breach',
      problem: newest.problem,
      message: newest.message,
    };
  const ageMs = Math.max(0, nowMs - newest.ms);
  return {
    ...base,
    newest: new Date(newest.ms).toISOString(),
    ageSeconds: ageMs / 1000,
    state: freshnessState(ageMs, sla),
  };
}

/**
 * Measures every SLA (default: the configured ones) and answers in their order.
 *
 * @example const results = await measureFreshness(cfg);
 */
export async function measureFreshness(
  cfg: Config,
  slas: readonly FreshnessSla[] = cfg.freshnessSlas,
  opts: { kafka?: KafkaClient; signal?: AbortSignal } = {},
): Promise<FreshnessResult[]> {
  const topics = [...new Set(slas.flatMap((s) => (s.kind === 'topic' ? [s.topic] : [])))];
  const tables = slas.filter((s) => s.kind === 'table');
  const kafka = topics.length
    ? (opts.kafka ?? createKafkaClient(cfg, `${cfg.kafkaClientId}-freshness`, { quiet: true }))
    : undefined;
  const [byTopic, byTable] = await Promise.all([
    kafka ? newestPerTopic(kafka, topics, opts.signal) : new Map<string, Newest>(),
    newestPerTable(cfg, tables),
  ]);
  const now = Date.now();
  return slas.map((s) => {
    const found = s.kind === 'topic' ? byTopic.get(s.topic) : byTable.get(s.subject);
    return freshnessOf(s, found ?? { problem: 'failed', message: 'not measured' }, now);
  });
}

function failed(err: unknown): Newest {
  return { problem: 'failed', message: `could not measure: ${(err as Error).message ?? String(err)}` };
}

/**
 * The newest record timestamp of each topic: the last records of every partition, read with the
 * operator commands' bounded reader (one throwaway group for all topics, deleted afterwards; it
 * works the same on both Kafka clients). Never throws: a failure is each topic's result.
 */
export async function newestPerTopic(
  kafka: KafkaClient,
  topics: readonly string[],
  stop?: AbortSignal,
): Promise<Map<string, Newest>> {
  const out = new Map<string, Newest>();
  try {
    const existing = await existingTopics(kafka);
    const present = topics.filter((t) => existing.has(t));
    for (const t of topics)
      if (!existing.has(t)) out.set(t, { problem: 'missing', message: `topic ${t} does not exist` });
    if (!present.length) return out;
    const newest = new Map<string, number>();
    const timeout = AbortSignal.timeout(KAFKA_READ_TIMEOUT_MS);
    const signal = stop ? AbortSignal.any([timeout, stop]) : timeout;
    const { ranges, stopped } = await readTopicRange(kafka, present, {
      start: { last: TAIL_RECORDS },
      groupPrefix: 'sluice-freshness',
      signal,
      onRecord: (r) => {
        if (r.timestamp > (newest.get(r.topic) ?? Number.NEGATIVE_INFINITY)) newest.set(r.topic, r.timestamp);
      },
    });
    for (const t of present) {
      const ms = newest.get(t);
      if (ms !== undefined) out.set(t, { ms });
      else if (ranges.filter((r) => r.topic === t).every((r) => r.high === r.low))
        out.set(t, { problem: 'empty', message: `topic ${t} has no records` });
      else if (stopped)
        out.set(t, failed(new Error(`no record of ${t} read within ${KAFKA_READ_TIMEOUT_MS / 1000} s`)));
      else
        out.set(t, { problem: 'empty', message: `no committed record among the last ${TAIL_RECORDS} offsets of ${t}` });
    }
  } catch (err) {
    for (const t of topics) if (!out.has(t)) out.set(t, failed(err));
  }
  return out;
}

async function existingTopics(kafka: KafkaClient): Promise<Set<string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Set(await admin.listTopics());
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** The read-only query of a table SLA: its newest value (identifiers quoted, nothing spliced). */
export function newestValueSql(sla: Extract<FreshnessSla, { kind: 'table' }>): string {
  return `select max(${quoteIdent(sla.column)}) as newest from ${quoteIdent(sla.schema)}.${quoteIdent(sla.table)}`;
}

/** `max(column)` of each table SLA, keyed by subject, in the warehouse database. Never throws. */
export async function newestPerTable(
  cfg: Config,
  tables: readonly Extract<FreshnessSla, { kind: 'table' }>[],
): Promise<Map<string, Newest>> {
  const out = new Map<string, Newest>();
  if (!tables.length) return out;
  const client = new pg.Client({
    ...pgConnection(cfg, cfg.warehouseDatabase),
    application_name: 'sluice-freshness',
    connectionTimeoutMillis: 5000,
  });
  try {
    await client.connect();
  } catch (err) {
    const e = failed(
      new Error(`cannot open the warehouse database ${cfg.warehouseDatabase}: ${(err as Error).message}`),
    );
    for (const t of tables) out.set(t.subject, e);
    await client.end().catch(() => {});
    return out;
  }
  try {
    for (const t of tables) out.set(t.subject, await newestOfTable(client, t));
  } finally {
    await client.end().catch(() => {});
  }
  return out;
}

async function newestOfTable(client: pg.Client, t: Extract<FreshnessSla, { kind: 'table' }>): Promise<Newest> {
  try {
    await client.query('begin transaction read only');
    const { rows } = await client.query(newestValueSql(t));
    const v = rows[0]?.newest as unknown;
    if (v === null || v === undefined) return { problem: 'empty', message: `${t.schema}.${t.table} has no rows` };
    if (!(v instanceof Date)) return failed(new Error(`${t.schema}.${t.table}.${t.column} is not a timestamp column`));
    return { ms: v.getTime() };
  } catch (err) {
    // 42P01 undefined_table, 3F000 invalid_schema_name
    const code = (err as { code?: string }).code;
    if (code === '42P01' || code === '3F000')
      return { problem: 'missing', message: `table ${t.schema}.${t.table} does not exist` };
    return failed(err);
  } finally {
    await client.query('rollback').catch(() => {});
  }
}
