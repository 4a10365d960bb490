import type { Config } from '../../../src/config/config.ts';
import { asSluiceError, SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import type { OltpTable } from '../../../src/shop/oltp/oltpTables.ts';
import {
  parseExtractSourceConfig,
  type PostgresIncrementalSourceConfig,
  type PostgresIncrementalSourceInput,
} from './config.ts';
import { ExtractConnection } from './connection.ts';
import type { ExtractMode, ExtractResult } from './extractResult.ts';
import { type ExtractHooks, extractTable } from './extractTable.ts';
import { type ExtractPosition, readPositions } from './positions.ts';
import { checkSchemaMatches, type Cursor, TABLE_SPECS } from './tables.ts';

/**
 * Postgres incremental source: the shop tables' changed rows, republished as Avro events on
 * `<topicPrefix><table>` (Confluent wire format, key = primary key as a string).
 *
 * Timestamp + incrementing semantics, as Kafka Connect's JDBC source: rows strictly after the
 * stored position `(updated_at, pk)`, ordered by `(updated_at, pk)`, read by keyset pages, so rows
 * sharing one `updated_at` across a page boundary are neither lost nor read twice in a run. Each
 * table is read inside one REPEATABLE READ snapshot, so a run ends even under heavy writes.
 *
 * Positions live in a compacted topic (see positions.ts) and are written only after the page's
 * events are acknowledged by every in-sync replica (acks -1): a crash re-reads at most one page,
 * never skips one. Delivery is at-least-once; downstream upserts by key.
 *
 * Late-committing transactions (kafka-connect-jdbc #172, #915): a transaction that writes a row
 * (updated_at = u) but commits after newer rows were extracted would fall behind a position that
 * already passed u. See `readHorizon` (horizon.ts) for how the position is held back so that never happens.
 */

const log = createLogger('extract.postgres');

/** Options of one extract run. */
export interface ExtractOptions extends PostgresIncrementalSourceInput, ExtractHooks {
  /** Re-read every row (op 'r'), ignoring stored positions. */
  full?: boolean;
  /** Start at rows with `updated_at >= since` instead of the stored position (op 'r'); ISO-8601 or epoch ms. */
  since?: string | number | Date;
}

/** The connector: `connect`, `extract` runs, `close`. */
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

type RunOptions = Parameters<PostgresIncrementalSource['extract']>[0] & {};

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

/** The run's tables and start time, checked before any I/O. */
function planRun(source: PostgresIncrementalSourceConfig, opts: RunOptions) {
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
  return { since, tables };
}

/** Where a table's run starts, and what it is called. */
function startOf(stored: ExtractPosition | undefined, opts: RunOptions, since: string | undefined) {
  const mode: ExtractMode = opts.full ? 'full' : since ? 'since' : stored ? 'incremental' : 'snapshot';
  const start: Cursor | null = since ? { updated_at: since, id: null } : stored && !opts.full ? stored : null;
  return { mode, start };
}

function logFinished(database: string, result: ExtractResult): void {
  const tables = Object.values(result.tables).map((t) => ({
    table: t.table,
    mode: t.mode,
    rows: t.rows,
    heldBack: t.heldBack,
    position: t.position,
  }));
  const { rows, elapsedMs, aborted } = result;
  log.info({ database, rows, elapsedMs, aborted, tables }, 'extract finished');
}

async function runExtract(
  conn: ExtractConnection,
  source: PostgresIncrementalSourceConfig,
  opts: RunOptions,
  plan: ReturnType<typeof planRun>,
): Promise<ExtractResult> {
  const t0 = performance.now();
  const stored =
    opts.full || plan.since
      ? new Map<string, ExtractPosition>()
      : await readPositions(conn.kafka!, source.positionsTopic, {
          timeoutMs: source.positionsReadTimeoutMs,
          signal: opts.signal,
        });
  const result: ExtractResult = { tables: {}, rows: 0, elapsedMs: 0, aborted: false };
  for (const table of plan.tables) {
    if (opts.signal?.aborted) break;
    const { mode, start } = startOf(stored.get(table), opts, plan.since);
    const r = await extractTable(conn, source, table, start, mode, opts);
    result.tables[table] = r;
    result.rows += r.rows;
  }
  result.aborted = Boolean(opts.signal?.aborted);
  result.elapsedMs = Math.round(performance.now() - t0);
  logFinished(conn.database, result);
  return result;
}

/**
 * The connector: validation here (CONFIG_INVALID before any I/O), connections in `connect()`.
 *
 * @example
 *   const source = createPostgresIncrementalSource(cfg, { tables: ['orders'] });
 *   try { await source.extract({ full: true }); } finally { await source.close(); }
 */
export function createPostgresIncrementalSource(
  cfg: Config,
  input: PostgresIncrementalSourceInput = {},
): PostgresIncrementalSource {
  const source = parseExtractSourceConfig(input, cfg);
  const database = source.database ?? cfg.oltpDatabase;
  for (const table of source.tables) checkSchemaMatches(TABLE_SPECS[table], loadSchema(`oltp.${table}`));
  let conn: ExtractConnection | undefined;
  let connecting: Promise<void> | undefined;

  async function close(): Promise<void> {
    const c = conn;
    conn = undefined;
    connecting = undefined;
    await c?.close();
  }
  function connect(): Promise<void> {
    conn ??= new ExtractConnection(cfg, source, database);
    connecting ??= conn.open().catch(async (err) => {
      await close();
      throw err;
    });
    return connecting;
  }
  return {
    config: source,
    connect,
    async extract(opts = {}) {
      const plan = planRun(source, opts);
      await connect();
      return runExtract(conn!, source, opts, plan);
    },
    close,
  };
}

/**
 * One extract of the configured tables now: connects, extracts, closes.
 *
 * @example
 *   const r = await extractOnce(cfg, { tables: ['customers'], since: '2025-06-01T00:00:00Z' });
 *   console.log(r.tables.customers.rows, r.tables.customers.position);
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
