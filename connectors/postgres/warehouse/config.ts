import { z } from 'zod';
import type { ClientConfig } from 'pg';
import { SluiceError } from '../../../src/core/errors.ts';

/**
 * Configuration of the Postgres warehouse sink (`warehouseSink`). The schema is at once the
 * validation, the documentation and the example: every field says what it does and what it
 * defaults to. Parsed when the topology is defined, so a bad config fails at start-up, before
 * any I/O.
 *
 * @example
 *   warehouseSink({ avroSchema: 'silver.orders', schema: 'silver', table: 'orders', mode: 'upsert',
 *                   keyColumns: ['order_id'], orderingColumn: 'updated_at' })
 */

/** A Postgres identifier we create: lower/upper letters, digits and `_`, at most 63 bytes. */
const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'letters, digits and _ (not starting with a digit), at most 63 characters');

/** Information handed to `onPauseBeforeCommit`: where the paused transaction is. */
export interface PauseInfo {
  sink: string;
  rows: number;
  /** The source partitions the transaction will advance: `topic/partition` → next offset. */
  offsets: Record<string, string>;
}

/** What a merge hook gets: the flush transaction, this flush's staged rows and the target table. */
export interface MergeHookContext {
  /** Runs a statement in the flush transaction (its failure rolls the flush back, like a merge's). */
  query(sql: string, values?: unknown[]): Promise<{ rowCount: number | null; rows: Record<string, unknown>[] }>;
  /** The staging table with this flush's fresh rows, `pg_temp.sluice_stage_…`: data columns, then STAGE_EXTRA. */
  stage: string;
  /** The target table, `"schema"."table"`. */
  table: string;
}

/**
 * Statements a sink runs inside its flush transaction around its merge, when the flush has fresh
 * rows for its table (what depends on the table and must commit with it: the gold marts).
 */
export interface MergeHooks {
  /** After COPY into the staging table, before the merge: the table still has its old rows. */
  beforeMerge?(tx: MergeHookContext): Promise<void>;
  /** After the merge, before the offsets advance and COMMIT. */
  afterMerge?(tx: MergeHookContext): Promise<void>;
}

const avroRecordSchema = z.looseObject({
  type: z.literal('record'),
  name: z.string().min(1),
  fields: z.array(z.looseObject({ name: z.string().min(1), type: z.unknown() })),
});

/** An inline Avro record schema (gold tables are declared this way). */
export type AvroRecordSchema = z.input<typeof avroRecordSchema>;

export const warehouseSinkConfigSchema = z
  .object({
    avroSchema: z
      .union([z.string().min(1), avroRecordSchema])
      .describe(
        'The Avro record the table is created from: a schema name from schemas/ (e.g. "silver.orders") or an ' +
          'inline record schema (gold tables). Field docs become column comments, the record doc the table ' +
          'comment. Required.',
      ),
    schema: identifier
      .default('public')
      .describe('Postgres schema of the table (created if missing), e.g. bronze, silver, gold. Default: public.'),
    table: z
      .union([z.literal(''), identifier])
      .default('')
      .describe(
        'Table name. Default: the last dotted part of avroSchema when it is a name ("silver.orders" → orders), ' +
          'else the record name in snake case.',
      ),
    name: z
      .string()
      .default('')
      .describe(
        'Sink id: the `sink` column of sluice.sluice_warehouse_offsets, and the name in logs and stats. Default: ' +
          '"<schema>.<table>".',
      ),
    mode: z
      .enum(['append', 'upsert', 'scd2'])
      .default('append')
      .describe(
        'append: every record is a row, unique on (_topic, _partition, _offset) so replays are idempotent ' +
          '(bronze). upsert: one row per key, the newer record wins (silver, facts, type-1 dims). scd2: slowly ' +
          'changing dimension type 2 with valid_from, valid_to, is_current. Default: append.',
      ),
    keyColumns: z
      .array(identifier)
      .default([])
      .describe(
        'Key columns (upsert: the primary key; scd2: the natural key). Required for upsert and scd2. Default: none.',
      ),
    orderingColumn: z
      .union([z.literal(''), identifier])
      .default('')
      .describe(
        'Field that orders versions of a key. upsert: a table column; the row with the greater value wins, ties go ' +
          'to the greater source offset. scd2: a timestamp field whose value becomes valid_from (it need not be a ' +
          'table column). Default: none (upsert: the source offset; scd2: the Kafka record timestamp).',
      ),
    trackedColumns: z
      .array(identifier)
      .default([])
      .describe(
        'scd2 only: a change in one of these columns closes the current version and opens a new one; other columns ' +
          "keep the value of the version's first record. Default: every column except the keys.",
      ),
    surrogateKeyColumn: z
      .union([z.literal(''), identifier])
      .default('')
      .describe('scd2 only: name of the surrogate key (bigint identity, primary key). Default: "<table>_sk".'),
    tableComment: z.string().default('').describe('Comment on the table. Default: the Avro record doc.'),
    deleteWhen: z
      .object({ field: z.string().min(1), equals: z.string() })
      .optional()
      .describe(
        'A record whose field `field` equals `equals` is a delete (change data capture: op = "d", with the last ' +
          'row image). upsert: the row of its key is deleted when the delete is the newer version (the same rule ' +
          'as an update); scd2: the current version is closed at the delete (valid_to, is_current = false), ' +
          'history kept; append: appended like any record. Default: none (every record is an upsert).',
      ),
    mergeHooks: z
      .custom<MergeHooks>((v) => v === undefined || (typeof v === 'object' && v !== null))
      .optional()
      .describe(
        'upsert and scd2: code run in the flush transaction before and after the merge of fresh rows (the gold ' +
          'marts are maintained there, so they commit with the facts and the offsets). Default: none.',
      ),
    transactionGroup: z
      .string()
      .default('')
      .describe(
        'Sinks of one runner with the same group name share one transaction per flush: their tables and consumed ' +
          'offsets commit together, so a crash never leaves one table of the group ahead of another (the medallion ' +
          'uses "medallion"). In a group the smallest batchRecords and lingerMs apply; connection, pool and retry ' +
          'settings come from the first sink. Default: "" (a transaction of its own).',
      ),
    batchRecords: z
      .number()
      .int()
      .positive()
      .default(5000)
      .describe(
        'Flush when this many records are pending (one transaction per flush, everything pending goes in). ' +
          'Default: 5000.',
      ),
    lingerMs: z
      .number()
      .int()
      .nonnegative()
      .default(500)
      .describe('Flush pending records at the latest this long after the oldest arrived. Default: 500.'),
    copyChunkBytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024)
      .describe(
        'Size of each write into the COPY stream (pg-copy-streams is slow with many tiny writes). Default: 1 MiB.',
      ),
    database: z.string().default('').describe('Database override. Default: SLUICE_WAREHOUSE_DATABASE.'),
    connection: z
      .custom<ClientConfig>((v) => v === undefined || (typeof v === 'object' && v !== null))
      .optional()
      .describe(
        'pg connection settings (tests, benchmarks, embedding). Default: built from the Sluice configuration ' +
          '(SLUICE_PG_*) when the sink connects.',
      ),
    setupSql: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Idempotent statements run once at connect, inside the DDL transaction (the medallion creates ' +
          'gold.dim_date with it). Default: none.',
      ),
    retries: z
      .number()
      .int()
      .nonnegative()
      .default(8)
      .describe(
        'Retries of a flush after a retriable error (connection lost, serialization failure, deadlock), with ' +
          'exponential backoff and jitter. Default: 8.',
      ),
    retryInitialMs: z.number().int().positive().default(200).describe('First retry delay. Default: 200.'),
    retryMaxMs: z.number().int().positive().default(5000).describe('Largest retry delay. Default: 5000.'),
    flushLanes: z
      .number()
      .int()
      .min(1)
      .default(2)
      .describe(
        'Transactions a flush is split into, committed side by side on their own connections, each with a share ' +
          "of the source partitions (a partition's rows are always in one lane, in order). 1: one transaction per " +
          'flush. Default: 2.',
      ),
    poolSize: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe(
        "Connections of the sink's pool: one per flush lane, one for offset look-ups. Default: 3 (flushLanes + 1).",
      ),
    pauseBeforeCommitMs: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe(
        'Test only: wait this long inside each flush transaction that copies rows, after COPY and merge, before ' +
          'COMMIT (crash tests kill the process there). Default: 0.',
      ),
    onPauseBeforeCommit: z
      .custom<(info: PauseInfo) => void>((v) => v === undefined || typeof v === 'function')
      .optional()
      .describe(
        'Test only: called when a pause before COMMIT starts (the crash test prints a marker line). Default: none.',
      ),
  })
  .superRefine((c, ctx) => {
    if ((c.mode === 'upsert' || c.mode === 'scd2') && c.keyColumns.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['keyColumns'], message: `mode ${c.mode} needs keyColumns` });
    }
    if (c.mode !== 'scd2' && (c.trackedColumns.length > 0 || c.surrogateKeyColumn)) {
      ctx.addIssue({
        code: 'custom',
        path: ['trackedColumns'],
        message: 'trackedColumns and surrogateKeyColumn only apply to mode scd2',
      });
    }
    if (c.mode === 'append' && c.mergeHooks) {
      ctx.addIssue({ code: 'custom', path: ['mergeHooks'], message: 'mergeHooks apply to upsert and scd2 only' });
    }
    if (typeof c.avroSchema !== 'string' && !c.table && !/^[A-Za-z_]/.test(c.avroSchema.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['table'],
        message: 'set table: the inline record name cannot be turned into one',
      });
    }
  });

/** What a caller writes (defaults optional). */
export type WarehouseSinkOptions = z.input<typeof warehouseSinkConfigSchema>;
/** The validated config with every default filled in. */
export type WarehouseSinkConfig = z.output<typeof warehouseSinkConfigSchema>;

/** Validates the options; CONFIG_INVALID lists every problem with its field. */
export function parseWarehouseSinkConfig(options: WarehouseSinkOptions): WarehouseSinkConfig {
  const parsed = warehouseSinkConfigSchema.safeParse(options);
  if (!parsed.success) {
    const where =
      typeof options?.avroSchema === 'string' ? options.avroSchema : `${options?.schema ?? ''}.${options?.table ?? ''}`;
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new SluiceError('CONFIG_INVALID', `warehouse sink ${where}: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return parsed.data;
}
