import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pgConnection, type Config } from '../../src/config/config.ts';
import { asSluiceError, SluiceError } from '../../src/core/errors.ts';
import { createLogger } from '../../src/core/log.ts';
import { loadSchema, subjectFor } from '../../src/domain/schemas.ts';
import { createKafkaClient, type KafkaClient } from '../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../src/kafka/ensureTopics.ts';
import { retryKafka } from '../../src/kafka/retryKafka.ts';
import type { Message, Producer } from '../../src/kafka/kafkaTypes.ts';
import { OLTP_PRIMARY_KEYS, type OltpTable } from '../../src/shop/oltp/oltpDdl.ts';
import { createAvroSerde, type AvroSerde } from '../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../src/serde/schemaRegistry.ts';
import {
  parseExtractSourceConfig,
  type PostgresIncrementalSourceConfig,
  type PostgresIncrementalSourceInput,
} from './source_postgres_incremental.config.ts';

/**
 * Postgres incremental source: the shop tables' changed rows, republished as Avro events on
 * `<topicPrefix><table>` (Confluent wire format, key = primary key as a string).
 *
 * Timestamp + incrementing semantics, as Kafka Connect's JDBC source: rows strictly after the
 * stored position `(updated_at, pk)`, ordered by `(updated_at, pk)`, read by keyset pages, so rows
 * sharing one `updated_at` across a page boundary are neither lost nor read twice in a run. Each
 * table is read inside one REPEATABLE READ snapshot, so a run ends even under heavy writes.
 *
 * Positions live in a compacted topic (key = table, value JSON `{"updated_at", "id"}`, the
 * timestamp in microseconds, UTC) and are written only after the page's events are acknowledged
 * by every in-sync replica (acks -1): a crash re-reads at most one page, never skips one.
 * Delivery is at-least-once; downstream upserts by key.
 *
 * Late-committing transactions (kafka-connect-jdbc #172, #915): a transaction that writes a row
 * (updated_at = u) but commits after newer rows were extracted would fall behind a position that
 * already passed u. See `readHorizon` for how the position is held back so that never happens.
 *
 * @example
 *   const result = await extractOnce(loadConfig(), { tables: ['orders'] });
 *   console.log(result.tables.orders.rows, result.tables.orders.position);
 */

const log = createLogger('extract.postgres');

/** A position in a table's change order: exclusive lower bound of the next extract. */
export interface ExtractPosition {
  /** `updated_at` of the last durable row, ISO-8601 UTC with microseconds (Postgres precision). */
  updated_at: string;
  /** Primary key of that row, as a decimal string (bigint). */
  id: string;
}

/**
 * How a table's run started: `incremental` from its stored position, `snapshot` because it had
 * none, `full` (--full) or `since` (--since). All but `incremental` publish op 'r'.
 */
export type ExtractMode = 'incremental' | 'snapshot' | 'full' | 'since';

export interface TableExtractResult {
  table: OltpTable;
  topic: string;
  mode: ExtractMode;
  /** Rows published (acknowledged by Kafka). */
  rows: number;
  /** Pages produced. */
  batches: number;
  /** Encoded value bytes produced. */
  bytes: number;
  /** Published rows at or after the horizon: the position stays before them, the next run re-reads them. */
  heldBack: number;
  /** Position the run started after (null: from the beginning). */
  startPosition: ExtractPosition | null;
  /**
   * Position stored by this run's last page, else the position it started from (null for a
   * `full` or `since` run that stored none: the topic then still holds the earlier one).
   */
  position: ExtractPosition | null;
  /** The horizon: the stored position stays strictly before this time (ISO, UTC). */
  horizon: string;
  /** Oldest other transaction still writing in the source database when the run started, if any. */
  blockingTransaction: { pid: number; xactStart: string } | null;
  elapsedMs: number;
}

export interface ExtractResult {
  /** Per extracted table, in extraction order. */
  tables: Record<string, TableExtractResult>;
  rows: number;
  elapsedMs: number;
  /** True when the signal stopped the run early (everything reported was still made durable). */
  aborted: boolean;
}

export interface ExtractProgress {
  table: OltpTable;
  rows: number;
  elapsedMs: number;
  rowsPerSecond: number;
  done: boolean;
}

/** Running totals for metrics and the dashboard; updated as pages are acknowledged. */
export interface ExtractStats {
  runs: number;
  failures: number;
  batches: number;
  rows: number;
  bytes: number;
  running: boolean;
  lastRunStartedAt: number | null;
  /** Wall-clock end of the last run that completed without error (epoch ms). */
  lastSuccessAt: number | null;
  lastDurationMs: number | null;
  lastError: { code: string; message: string; at: number } | null;
  /** Last stored position per table. */
  positions: Record<string, ExtractPosition | null>;
}

export function createExtractStats(): ExtractStats {
  return {
    runs: 0,
    failures: 0,
    batches: 0,
    rows: 0,
    bytes: 0,
    running: false,
    lastRunStartedAt: null,
    lastSuccessAt: null,
    lastDurationMs: null,
    lastError: null,
    positions: {},
  };
}

export interface ExtractOptions extends PostgresIncrementalSourceInput {
  /** Re-read every row (op 'r'), ignoring stored positions. */
  full?: boolean;
  /** Start at rows with `updated_at >= since` instead of the stored position (op 'r'); ISO-8601 or epoch ms. */
  since?: string | number | Date;
  /** Stops the run after the page in flight is durable and its position stored. */
  signal?: AbortSignal;
  /** Called about every second while a table is read, and once when it is done. */
  onProgress?: (progress: ExtractProgress) => void;
  /** Totals to update (the schedule passes its own). */
  stats?: ExtractStats;
}

// ---------------------------------------------------------------------------------------------
// Tables

type FieldKind = 'long' | 'int' | 'string' | 'decimal' | 'boolean' | 'timestamp';

interface TableSpec {
  table: OltpTable;
  pk: string;
  /** Column holding the row's creation time, for op 'c' vs 'u' (order_items has none). */
  createdColumn?: string;
  /** Avro fields read from the row, in schema order; `op` and `extracted_at` are added. */
  fields: readonly (readonly [string, FieldKind])[];
}

const TABLE_SPECS: Record<OltpTable, TableSpec> = {
  customers: {
    table: 'customers',
    pk: OLTP_PRIMARY_KEYS.customers,
    createdColumn: 'created_at',
    fields: [
      ['customer_id', 'long'],
      ['email', 'string'],
      ['full_name', 'string'],
      ['country', 'string'],
      ['created_at', 'timestamp'],
      ['updated_at', 'timestamp'],
    ],
  },
  products: {
    table: 'products',
    pk: OLTP_PRIMARY_KEYS.products,
    createdColumn: 'created_at',
    fields: [
      ['product_id', 'long'],
      ['sku', 'string'],
      ['name', 'string'],
      ['category', 'string'],
      ['price', 'decimal'],
      ['active', 'boolean'],
      ['created_at', 'timestamp'],
      ['updated_at', 'timestamp'],
    ],
  },
  orders: {
    table: 'orders',
    pk: OLTP_PRIMARY_KEYS.orders,
    createdColumn: 'ordered_at',
    fields: [
      ['order_id', 'long'],
      ['customer_id', 'long'],
      ['status', 'string'],
      ['total_amount', 'decimal'],
      ['currency', 'string'],
      ['ordered_at', 'timestamp'],
      ['updated_at', 'timestamp'],
    ],
  },
  order_items: {
    table: 'order_items',
    pk: OLTP_PRIMARY_KEYS.order_items,
    fields: [
      ['order_item_id', 'long'],
      ['order_id', 'long'],
      ['product_id', 'long'],
      ['quantity', 'int'],
      ['unit_price', 'decimal'],
      ['updated_at', 'timestamp'],
    ],
  },
};

/**
 * A row inserted and never updated has `updated_at` within microseconds of its creation time (both
 * defaults are clock_timestamp(), or the application sets them in the same statement). An update
 * inside this tolerance is also reported as 'c': the image is the current row either way.
 */
const CREATE_TOLERANCE = `interval '1 second'`;

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const isoUtc = (expr: string) => `to_char((${expr}) at time zone 'UTC', ${ISO_US})`;

function selectList(spec: TableSpec): string {
  const cols = spec.fields.map(([name, kind]) => {
    const col = pg.escapeIdentifier(name);
    // Milliseconds from the exact numeric epoch (Postgres 14+): truncated, never rounded up.
    if (kind === 'timestamp') return `floor(extract(epoch from t.${col}) * 1000)::bigint as ${col}`;
    if (kind === 'decimal' || kind === 'long') return `t.${col}::text as ${col}`;
    return `t.${col}`;
  });
  const pk = pg.escapeIdentifier(spec.pk);
  cols.push(
    `${isoUtc('t.updated_at')} as "_cursor_ts"`,
    `t.${pk}::text as "_cursor_id"`,
    `t.updated_at < $2::timestamptz as "_below_horizon"`,
  );
  cols.push(
    spec.createdColumn
      ? `(t.updated_at - t.${pg.escapeIdentifier(spec.createdColumn)}) <= ${CREATE_TOLERANCE} as "_fresh"`
      : `false as "_fresh"`,
  );
  return cols.join(', ');
}

/** Keyset page: $1 limit, $2 horizon, then the cursor ($3 updated_at[, $4 pk]). */
function pageQuery(spec: TableSpec, cursor: Cursor | null): { text: string; name: string } {
  const pk = pg.escapeIdentifier(spec.pk);
  const where =
    cursor === null
      ? ''
      : cursor.id === null
        ? 'where t.updated_at >= $3::timestamptz'
        : `where (t.updated_at, t.${pk}) > ($3::timestamptz, $4::bigint)`;
  const kind = cursor === null ? 'all' : cursor.id === null ? 'since' : 'after';
  return {
    name: `sluice_extract_${spec.table}_${kind}`,
    // Qualified names: the select list reuses `updated_at` as an output name (epoch ms), and a bare
    // `order by updated_at` would sort by that truncated alias instead of the column.
    text: `select ${selectList(spec)} from ${pg.escapeIdentifier(spec.table)} t ${where} order by t.updated_at, t.${pk} limit $1`,
  };
}

/** A read cursor: after (updated_at, id), or from updated_at inclusive when id is null (--since). */
interface Cursor {
  updated_at: string;
  id: string | null;
}

function toValue(
  spec: TableSpec,
  row: Record<string, unknown>,
  op: 'c' | 'u' | 'r',
  extractedAt: number,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [name, kind] of spec.fields) {
    const v = row[name];
    value[name] = v === null ? null : kind === 'long' || kind === 'timestamp' ? Number(v) : v;
  }
  value.op = op;
  value.extracted_at = extractedAt;
  return value;
}

/** The Avro schema and the column list must agree; a drift is a bug, caught before any I/O. */
function checkSchemaMatches(spec: TableSpec, schema: unknown): void {
  const names = ((schema as { fields?: { name: string }[] }).fields ?? []).map((f) => f.name);
  const expected = [...spec.fields.map(([n]) => n), 'op', 'extracted_at'];
  if (names.join(',') !== expected.join(',')) {
    throw new SluiceError(
      'INTERNAL',
      `schema of ${spec.table} has fields ${names.join(', ')}; the extractor reads ${expected.join(', ')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The horizon

interface Horizon {
  /** The stored position must stay strictly before this (ISO UTC, microseconds). */
  cap: string;
  observedAt: string;
  blocking: { pid: number; xactStart: string } | null;
  /** Sessions whose transaction state this role may not see. */
  hidden: number;
  snapshotXmin: string;
}

/**
 * The time before which every row is visible to a snapshot taken after this call.
 *
 * Why it holds: the only writers of `updated_at` are the column default and the update trigger,
 * both `clock_timestamp()` (see oltpDdl.ts), so a row written by transaction T carries
 * `updated_at >= T.xact_start`, and it is stamped while T runs a statement. Take a transaction T
 * not yet committed when our snapshot is taken (later than this call). Either T was already
 * running a statement or holding an xid here, so it is listed below and the cap is at most its
 * start, hence at most the row's `updated_at`; or it wrote nothing yet and will stamp its rows
 * after `statement_timestamp()` of this query, which is also an upper bound of the cap. So every
 * invisible row has `updated_at >= cap`, and a position below the cap can never pass one: rows at
 * or after the cap are still published (fresh data, duplicates are fine) but re-read next run.
 *
 * `pg_snapshot_xmin(pg_current_snapshot())` is logged alongside to correlate with `xmin` of rows.
 * Sessions of other databases cannot write these tables and are ignored. A role without
 * pg_read_all_stats sees other roles' sessions as `<insufficient privilege>`: then the safety lag
 * applies as well (and a warning says what to grant). Limits: rows given an explicit `updated_at`
 * on insert (bulk loads setting it by hand), prepared (2PC) transactions and server clock jumps
 * backwards are outside this guarantee; `watermark: 'safety-lag'` covers what its lag covers.
 */
async function readHorizon(client: pg.Client, source: PostgresIncrementalSourceConfig): Promise<Horizon> {
  const { rows } = await client.query({
    name: 'sluice_extract_horizon',
    text: `with sessions as (
  select pid, xact_start, query = '<insufficient privilege>' as hidden
  from pg_stat_activity
  where datname = current_database() and pid <> pg_backend_pid()
    and (backend_type = 'client backend' or backend_type is null)
    and (backend_xid is not null or state = 'active' or query = '<insufficient privilege>')
    -- Other extractors read in READ ONLY transactions (no xid, ever): their long snapshots write nothing.
    and not (application_name = 'sluice-extract' and backend_xid is null)
)
select ${isoUtc('statement_timestamp()')} as observed_at,
       ${isoUtc('min(xact_start)')} as oldest_start,
       (array_agg(pid order by xact_start) filter (where xact_start is not null))[1] as oldest_pid,
       (count(*) filter (where hidden))::int as hidden,
       ${isoUtc(`least(
         statement_timestamp(),
         case when $1 = 'transaction-aware' then min(xact_start) end,
         case when $1 = 'safety-lag' or bool_or(hidden) then statement_timestamp() - $2::bigint * interval '1 millisecond' end)`)} as cap,
       pg_snapshot_xmin(pg_current_snapshot())::text as snapshot_xmin
from sessions`,
    values: [source.watermark, source.safetyLagMs],
  });
  const r = rows[0];
  return {
    cap: r.cap,
    observedAt: r.observed_at,
    blocking: r.oldest_pid === null ? null : { pid: Number(r.oldest_pid), xactStart: r.oldest_start },
    hidden: r.hidden,
    snapshotXmin: r.snapshot_xmin,
  };
}

// ---------------------------------------------------------------------------------------------
// Positions

const TS_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

function parsePosition(raw: Buffer, where: { topic: string; partition: number; offset: string }): ExtractPosition {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    value = undefined;
  }
  const v = value as { updated_at?: unknown; id?: unknown } | undefined;
  const id = typeof v?.id === 'number' ? String(v.id) : v?.id;
  if (
    !v ||
    typeof v.updated_at !== 'string' ||
    !TS_PATTERN.test(v.updated_at) ||
    typeof id !== 'string' ||
    !/^-?\d+$/.test(id)
  ) {
    throw new SluiceError(
      'EXTRACT_POSITION_INVALID',
      `${where.topic} holds a position that is not {"updated_at": "<ISO UTC>", "id": "<pk>"} at partition ${where.partition} offset ${where.offset}`,
      { coordinates: where },
    );
  }
  return { updated_at: v.updated_at, id };
}

/**
 * Reads the compacted positions topic to its end (the end offsets seen at start). The latest
 * record per key wins; a tombstone forgets the table (its next run is a snapshot).
 */
export async function readPositions(
  kafka: KafkaClient,
  topic: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Map<string, ExtractPosition>> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const admin = kafka.admin();
  let ends: { partition: number; high: string; low: string }[];
  try {
    // Retried: right after the topic is created, or while its leader moves, the broker answers
    // NOT_LEADER_FOR_PARTITION for a moment and kafkajs' admin gives up on that at once.
    await retryKafka(() => admin.connect(), `connecting to read ${topic}`, { signal: opts.signal });
    ends = await retryKafka(() => admin.fetchTopicOffsets(topic), `end offsets of ${topic}`, { signal: opts.signal });
  } catch (err) {
    throw new SluiceError(
      'KAFKA_CONNECT_FAILED',
      `cannot read the end offsets of the positions topic ${topic}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
  const targets = new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const positions = new Map<string, ExtractPosition>();
  if (targets.size === 0) return positions;

  const next = new Map<number, bigint>();
  const heard = new Set<number>();
  // A throwaway group: positions are read whole on every run and never committed. Short fetch
  // waits: once caught up the consumer leaves at once instead of finishing a 5 s long poll.
  const consumer = kafka.raw.consumer({
    groupId: `sluice-extract-positions-${randomBytes(6).toString('hex')}`,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 200,
  });
  let lastProgress = Date.now();
  let watchdog: NodeJS.Timeout | undefined;
  try {
    await retryKafka(
      async () => {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
      },
      `subscribing to ${topic}`,
      { signal: opts.signal },
    );
    await new Promise<void>((resolve, reject) => {
      const caughtUp = () => [...targets].every(([p, high]) => (next.get(p) ?? 0n) >= high);
      const fail = (err: unknown) => reject(asSluiceError(err, 'KAFKA_CONNECT_FAILED'));
      // A crash kafkajs restarts (a transient broker error) is not a failure; the watchdog still
      // fails the read if the restarted consumer makes no progress.
      consumer.on(consumer.events.CRASH, (e) => {
        if (!(e.payload as { restart?: boolean }).restart) fail(e.payload.error);
      });
      watchdog = setInterval(() => {
        if (opts.signal?.aborted) return resolve();
        if (Date.now() - lastProgress < timeoutMs) return;
        const missing = [...targets.keys()].filter((p) => (next.get(p) ?? 0n) < targets.get(p)!);
        // A partition whose tail records were compacted away (a tombstone past
        // delete.retention.ms) never reaches its old end offset; having read it is enough.
        if (missing.every((p) => heard.has(p))) return resolve();
        fail(
          new SluiceError(
            'KAFKA_CONNECT_FAILED',
            `reading the positions topic ${topic} made no progress for ${timeoutMs} ms (partitions ${missing.join(', ')} unread)`,
          ),
        );
      }, 200);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const key = m.key?.toString('utf8');
              if (key !== undefined) {
                if (m.value === null) positions.delete(key);
                else
                  positions.set(key, parsePosition(m.value, { topic, partition: batch.partition, offset: m.offset }));
              }
              next.set(batch.partition, BigInt(m.offset) + 1n);
            }
            heard.add(batch.partition);
            lastProgress = Date.now();
            if (caughtUp()) {
              // Paused before the next fetch, so disconnecting does not wait out a long poll.
              consumer.pause([{ topic }]);
              resolve();
            }
          },
        })
        .catch(fail);
    });
  } finally {
    clearInterval(watchdog);
    await consumer.disconnect().catch(() => {});
  }
  return positions;
}

// ---------------------------------------------------------------------------------------------
// The source

export interface PostgresIncrementalSource {
  readonly config: PostgresIncrementalSourceConfig;
  /** Connects to Postgres, Kafka and the registry; creates missing topics; registers the schemas. Idempotent. */
  connect(): Promise<void>;
  /** One run over the configured tables (or `opts.tables`). */
  extract(
    opts?: Omit<ExtractOptions, keyof PostgresIncrementalSourceInput> & { tables?: readonly OltpTable[] },
  ): Promise<ExtractResult>;
  close(): Promise<void>;
}

/** Largest sum of value bytes in one produce request: well under the brokers' default 1 MiB. */
const MAX_REQUEST_BYTES = 512 * 1024;

function parseSince(since: string | number | Date): string {
  const ms =
    since instanceof Date
      ? since.getTime()
      : typeof since === 'number'
        ? since
        : /^\d+$/.test(since)
          ? Number(since)
          : Date.parse(since);
  if (!Number.isFinite(ms))
    throw new SluiceError(
      'CLI_USAGE',
      `--since ${String(since)} is not a time: give an ISO-8601 time (2025-06-01T00:00:00Z) or epoch milliseconds`,
    );
  return new Date(ms).toISOString();
}

/**
 * The connector: validation here (CONFIG_INVALID before any I/O), connections in `connect()`.
 */
export function createPostgresIncrementalSource(
  cfg: Config,
  input: PostgresIncrementalSourceInput = {},
): PostgresIncrementalSource {
  const source = parseExtractSourceConfig(input);
  const database = source.database ?? cfg.oltpDatabase;
  for (const table of source.tables) checkSchemaMatches(TABLE_SPECS[table], loadSchema(`oltp.${table}`));

  let kafka: KafkaClient | undefined;
  let producer: Producer | undefined;
  let client: pg.Client | undefined;
  let serde: AvroSerde | undefined;
  const schemaIds = new Map<OltpTable, number>();
  let connecting: Promise<void> | undefined;

  const topicOf = (table: OltpTable) => `${source.topicPrefix}${table}`;

  async function doConnect(): Promise<void> {
    kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-extract`);
    if (source.createTopics) {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const created = await ensureTopics(
          admin,
          [...source.tables.map((t) => ({ topic: topicOf(t) })), { topic: source.positionsTopic, compacted: true }],
          { partitions: cfg.topicPartitions, replicationFactor: cfg.topicReplication },
        );
        if (created.length) log.info({ topics: created }, 'created extract topics');
      } catch (err) {
        throw asSluiceError(err, 'KAFKA_CONNECT_FAILED');
      } finally {
        await admin.disconnect().catch(() => {});
      }
    }
    const registry = createRegistryClient(cfg);
    serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
    for (const table of source.tables) {
      schemaIds.set(table, await registry.register(subjectFor(topicOf(table)), loadSchema(`oltp.${table}`)));
    }
    // Pages are encoded synchronously; the serde learns each writer schema once, here.
    await serde.prepareIds(schemaIds.values());
    producer = kafka.producer();
    try {
      await producer.connect();
    } catch (err) {
      throw new SluiceError(
        'KAFKA_CONNECT_FAILED',
        `cannot connect the extract producer to ${cfg.kafkaBrokers}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const conf = pgConnection(cfg, database);
    client = new pg.Client({ ...conf, application_name: 'sluice-extract' });
    try {
      await client.connect();
      await client.query(`set timezone = 'UTC'`);
    } catch (err) {
      throw new SluiceError(
        'PG_QUERY_FAILED',
        `cannot connect to Postgres database "${database}" at ${conf.host}:${conf.port}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async function send(topic: string, messages: Message[]): Promise<void> {
    try {
      await producer!.send({ topic, acks: -1, messages });
    } catch (err) {
      throw new SluiceError(
        'KAFKA_PRODUCE_FAILED',
        `producing ${messages.length} records to ${topic}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async function produceRows(topic: string, messages: Message[], sizes: number[]): Promise<void> {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      if (i > start && bytes + sizes[i] > MAX_REQUEST_BYTES) {
        await send(topic, messages.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += sizes[i];
    }
    if (start < messages.length) await send(topic, messages.slice(start));
  }

  async function pgStep<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw err instanceof SluiceError
        ? err
        : new SluiceError('PG_QUERY_FAILED', `${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  async function storePosition(table: OltpTable, position: ExtractPosition): Promise<void> {
    await send(source.positionsTopic, [{ key: table, value: JSON.stringify(position) }]);
  }

  async function extractTable(
    table: OltpTable,
    start: Cursor | null,
    mode: ExtractMode,
    opts: Pick<ExtractOptions, 'signal' | 'onProgress' | 'stats'>,
  ): Promise<TableExtractResult> {
    const spec = TABLE_SPECS[table];
    const topic = topicOf(table);
    const schemaId = schemaIds.get(table)!;
    const t0 = performance.now();
    const op = mode === 'incremental' ? undefined : ('r' as const);
    const startPosition: ExtractPosition | null =
      start && start.id !== null ? { updated_at: start.updated_at, id: start.id } : null;
    const result: TableExtractResult = {
      table,
      topic,
      mode,
      rows: 0,
      batches: 0,
      bytes: 0,
      heldBack: 0,
      startPosition,
      position: startPosition,
      horizon: '',
      blockingTransaction: null,
      elapsedMs: 0,
    };
    const report = (done: boolean) => {
      const elapsedMs = performance.now() - t0;
      opts.onProgress?.({
        table,
        rows: result.rows,
        elapsedMs: Math.round(elapsedMs),
        rowsPerSecond: Math.round((result.rows * 1000) / Math.max(1, elapsedMs)),
        done,
      });
    };
    const ticker = opts.onProgress ? setInterval(() => report(false), 1000) : undefined;
    const db = client!;
    let inTransaction = false;
    try {
      // The horizon first, then the snapshot: the order the proof in readHorizon needs.
      const horizon = await pgStep(`reading the transaction horizon of ${database}`, () => readHorizon(db, source));
      result.horizon = horizon.cap;
      result.blockingTransaction = horizon.blocking;
      if (horizon.hidden > 0) {
        log.warn(
          {
            code: 'SLUICE_ERR_EXTRACT_HORIZON_HIDDEN',
            database,
            hidden: horizon.hidden,
            safetyLagMs: source.safetyLagMs,
          },
          'some sessions are hidden from this role in pg_stat_activity; holding the position back by the safety lag too (grant pg_read_all_stats to the extract role)',
        );
      }
      if (horizon.blocking)
        log.debug(
          { table, pid: horizon.blocking.pid, xactStart: horizon.blocking.xactStart },
          'an open transaction holds the extract position back',
        );
      log.debug({ table, mode, horizon: horizon.cap, snapshotXmin: horizon.snapshotXmin, start }, 'extracting');

      await pgStep(`opening the snapshot of ${database}.${table}`, () =>
        db.query('begin isolation level repeatable read read only'),
      );
      inTransaction = true;
      let cursor = start;
      let pending: Promise<void> | undefined;
      for (;;) {
        const query = pageQuery(spec, cursor);
        const values: unknown[] = [source.pageSize, horizon.cap];
        if (cursor) values.push(cursor.updated_at, ...(cursor.id === null ? [] : [cursor.id]));
        let rows: Record<string, unknown>[];
        try {
          ({ rows } = await db.query({ ...query, values }));
        } catch (err) {
          throw new SluiceError('PG_QUERY_FAILED', `reading ${database}.${table}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        // The previous page's events and position become durable while this page was read.
        if (pending) await pending;
        pending = undefined;
        if (rows.length === 0) break;

        const extractedAt = Date.now();
        const messages: Message[] = new Array(rows.length);
        const sizes: number[] = new Array(rows.length);
        let bytes = 0;
        let pagePosition: ExtractPosition | undefined;
        let heldBack = 0;
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i];
          const value = serde!.encodeSync(schemaId, toValue(spec, row, op ?? (row._fresh ? 'c' : 'u'), extractedAt));
          messages[i] = { key: row._cursor_id as string, value };
          sizes[i] = value.length + 16;
          bytes += value.length;
          if (row._below_horizon) pagePosition = { updated_at: row._cursor_ts as string, id: row._cursor_id as string };
          else heldBack++;
        }
        const last = rows[rows.length - 1];
        cursor = { updated_at: last._cursor_ts as string, id: last._cursor_id as string };
        pending = (async () => {
          await produceRows(topic, messages, sizes);
          // Only now may the position move: everything before it is acknowledged.
          if (pagePosition) await storePosition(table, pagePosition);
          result.rows += rows.length;
          result.batches++;
          result.bytes += bytes;
          result.heldBack += heldBack;
          if (pagePosition) result.position = pagePosition;
          if (opts.stats) {
            opts.stats.rows += rows.length;
            opts.stats.batches++;
            opts.stats.bytes += bytes;
            if (pagePosition) opts.stats.positions[table] = pagePosition;
          }
        })();
        pending.catch(() => {}); // awaited below; this only avoids an unhandled-rejection report meanwhile
        if (rows.length < source.pageSize || opts.signal?.aborted) break;
      }
      if (pending) await pending;
      inTransaction = false;
      await pgStep(`closing the snapshot of ${database}.${table}`, () => db.query('commit'));
    } finally {
      if (ticker) clearInterval(ticker);
      if (inTransaction) await db.query('rollback').catch(() => {});
      result.elapsedMs = Math.round(performance.now() - t0);
    }
    report(true);
    if (result.heldBack > 0) {
      log.info(
        { table, heldBack: result.heldBack, horizon: result.horizon, blocking: result.blockingTransaction },
        'rows at or after the horizon were published; the position stays before them and the next run re-reads them',
      );
    }
    return result;
  }

  function connect(): Promise<void> {
    connecting ??= doConnect().catch(async (err) => {
      await closeAll();
      throw err;
    });
    return connecting;
  }

  return {
    config: source,
    connect,
    async extract(opts = {}) {
      if (opts.full && opts.since !== undefined)
        throw new SluiceError('CLI_USAGE', '--full and --since exclude each other: --full re-reads every row');
      const since = opts.since === undefined ? undefined : parseSince(opts.since);
      const tables = opts.tables ?? source.tables;
      for (const t of tables) {
        if (!source.tables.includes(t))
          throw new SluiceError(
            'CLI_USAGE',
            `table ${t} is not configured for this source (configured: ${source.tables.join(', ')})`,
          );
      }
      await connect();
      const t0 = performance.now();
      const stored =
        opts.full || since
          ? new Map<string, ExtractPosition>()
          : await readPositions(kafka!, source.positionsTopic, {
              timeoutMs: source.positionsReadTimeoutMs,
              signal: opts.signal,
            });
      const result: ExtractResult = { tables: {}, rows: 0, elapsedMs: 0, aborted: false };
      for (const table of tables) {
        if (opts.signal?.aborted) break;
        const position = stored.get(table);
        const mode: ExtractMode = opts.full ? 'full' : since ? 'since' : position ? 'incremental' : 'snapshot';
        const start: Cursor | null = since ? { updated_at: since, id: null } : position && !opts.full ? position : null;
        const r = await extractTable(table, start, mode, opts);
        result.tables[table] = r;
        result.rows += r.rows;
      }
      result.aborted = Boolean(opts.signal?.aborted);
      result.elapsedMs = Math.round(performance.now() - t0);
      log.info(
        {
          database,
          rows: result.rows,
          elapsedMs: result.elapsedMs,
          aborted: result.aborted,
          tables: Object.values(result.tables).map((t) => ({
            table: t.table,
            mode: t.mode,
            rows: t.rows,
            heldBack: t.heldBack,
            position: t.position,
          })),
        },
        'extract finished',
      );
      return result;
    },
    close: closeAll,
  };

  async function closeAll(): Promise<void> {
    const c = client;
    const p = producer;
    client = undefined;
    producer = undefined;
    connecting = undefined;
    await Promise.all([c?.end().catch(() => {}), p?.disconnect().catch(() => {})]);
  }
}

/**
 * One extract of the configured tables now: connects, extracts, closes.
 *
 * @example
 *   const r = await extractOnce(cfg, { tables: ['customers'], since: '2025-06-01T00:00:00Z' });
 */
export async function extractOnce(cfg: Config, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const { full, since, signal, onProgress, stats, ...sourceInput } = opts;
  const source = createPostgresIncrementalSource(cfg, sourceInput);
  if (stats) {
    stats.running = true;
    stats.runs++;
    stats.lastRunStartedAt = Date.now();
  }
  const t0 = performance.now();
  try {
    const result = await source.extract({ full, since, signal, onProgress, stats });
    if (stats) {
      stats.lastSuccessAt = Date.now();
      stats.lastDurationMs = Math.round(performance.now() - t0);
    }
    return result;
  } catch (err) {
    const e = asSluiceError(err);
    if (stats) {
      stats.failures++;
      stats.lastError = { code: e.code, message: e.message, at: Date.now() };
    }
    throw e;
  } finally {
    if (stats) stats.running = false;
    await source.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The schedule

export interface ExtractScheduleOptions extends Omit<ExtractOptions, 'full' | 'since' | 'signal' | 'stats'> {
  /** Time between run starts; default: the config's intervalMs (1 h). A run longer than this delays the next. */
  intervalMs?: number;
  /** Delay of the first run; default 0 (extract at start, then every interval). */
  initialDelayMs?: number;
  /** First retry after a failed run; doubles per consecutive failure, capped at intervalMs. Default 30 s. */
  retryMs?: number;
  /** Called after every run (result or error). */
  onRun?: (outcome: { result?: ExtractResult; error?: SluiceError }) => void;
}

export interface ExtractSchedule {
  readonly stats: ExtractStats;
  /** Runs now unless a run is in progress, in which case it waits for that one. */
  runNow(): Promise<void>;
  /** Stops the timer, asks a running extract to stop after its page in flight, and waits for it. */
  stop(): Promise<void>;
}

/**
 * Runs `extractOnce` every `intervalMs`, never two at once; failures are logged and retried with
 * backoff. Used inside `sluice run`.
 *
 * @example
 *   const schedule = startExtractSchedule(cfg, { intervalMs: 3_600_000 });
 *   // ... on shutdown:
 *   await schedule.stop();
 */
export function startExtractSchedule(cfg: Config, opts: ExtractScheduleOptions = {}): ExtractSchedule {
  const { intervalMs: intervalOpt, initialDelayMs = 0, retryMs = 30_000, onRun, ...extractOpts } = opts;
  const intervalMs = intervalOpt ?? parseExtractSourceConfig(extractOpts).intervalMs;
  const stats = createExtractStats();
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let stopped = false;
  let consecutiveFailures = 0;

  const plan = (delayMs: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        void runNow();
      },
      Math.max(0, delayMs),
    );
  };

  function runNow(): Promise<void> {
    if (current) return current;
    if (stopped) return Promise.resolve();
    clearTimeout(timer);
    const startedAt = performance.now();
    current = (async () => {
      let next = intervalMs;
      try {
        const result = await extractOnce(cfg, { ...extractOpts, signal: ac.signal, stats });
        consecutiveFailures = 0;
        next = intervalMs - (performance.now() - startedAt);
        onRun?.({ result });
      } catch (err) {
        const e = asSluiceError(err);
        consecutiveFailures++;
        next = Math.min(intervalMs, retryMs * 2 ** (consecutiveFailures - 1));
        log.error(
          { code: e.code, err: e.message, failures: consecutiveFailures, retryInMs: next },
          'scheduled extract failed; will retry',
        );
        onRun?.({ error: e });
      } finally {
        current = undefined;
        plan(next);
      }
    })();
    return current;
  }

  plan(initialDelayMs);
  return {
    stats,
    runNow,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      ac.abort();
      await current;
    },
  };
}
