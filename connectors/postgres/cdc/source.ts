import client from 'prom-client';
import type { Config } from '../../../src/config/config.ts';
import { asSluiceError, errorCode, SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import { withRetry } from '../../../src/core/retry.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { checkSchemaMatches, TABLE_SPECS } from '../extract/tables.ts';
import { CdcConnection } from './cdcConnection.ts';
import { type CdcMetrics, createCdcMetrics } from './cdcMetrics.ts';
import type { TableTarget } from './changeRecords.ts';
import { ChangeStream } from './changeStream.ts';
import { parseCdcSourceConfig, type PostgresCdcSourceConfig, type PostgresCdcSourceInput } from './config.ts';
import { formatLsn } from './lsn.ts';
import {
  checkSlotUsable,
  createSlotWithSnapshot,
  dropSlot,
  ensurePublication,
  ensureReplicaIdentityFull,
  readSlot,
} from './slot.ts';
import { publishSnapshot } from './snapshot.ts';
import { readSnapshotDone, stateKey, writeSnapshotDone } from './snapshotState.ts';

const log = createLogger('cdc.postgres');

/**
 * Postgres change data capture into `oltp.<table>` (the extract's topics, keys and envelope):
 * a pgoutput slot and its publication, created if missing; on first start a snapshot (op r) read
 * in the snapshot the slot exported, then the stream (op c, u, d, and a tombstone after each d).
 * The slot's confirmed LSN moves only after Kafka acknowledged the changes (changeStream.ts).
 * Transient failures (Postgres restarting, a broker away, the slot still held by a process that
 * just died) reconnect from the confirmed LSN with backoff; an invalidated slot, or a change that
 * does not fit its schema, stops the source with its error.
 */
export interface PostgresCdcSource {
  readonly config: PostgresCdcSourceConfig;
  readonly metrics: CdcMetrics;
  /** Prepares the slot (and snapshot) and starts streaming; resolves once changes flow. */
  start(): Promise<void>;
  /** Settles when the source ends: resolves after `stop`, rejects with a fatal error. */
  readonly done: Promise<void>;
  /** The confirmed flush LSN last sent to the server (undefined before streaming). */
  confirmedLsn(): bigint | undefined;
  /** Reads the slot's lag now (also done every lagIntervalMs) and sets sluice_cdc_lag_bytes. */
  refreshLag(): Promise<number | undefined>;
  /** Stops after the produce round in flight is acknowledged and confirmed. */
  stop(): Promise<void>;
}

/** Options besides the configuration. */
export interface CdcSourceOptions {
  /** Registry of the metrics (the runner's, for its /metrics); default: a private one. */
  registry?: client.Registry;
  /** Longest time reconnect attempts go on before the source fails (default: without limit). */
  maxRetryMs?: number;
}

function retriable(err: unknown): boolean {
  return asSluiceError(err).retriable;
}

/** Where the stream starts: the existing slot's confirmed LSN, or a new slot after its snapshot. */
async function prepareSlot(conn: CdcConnection, source: PostgresCdcSourceConfig, targets: TableTarget[]) {
  const db = conn.db!;
  await ensurePublication(db, source.publication, source.tables);
  await ensureReplicaIdentityFull(db, source.tables);
  const key = stateKey(source.database, source.slot);
  let slot = await readSlot(db, source.slot);
  if (slot) {
    checkSlotUsable(source.slot, slot, source.database);
    if (slot.active) {
      throw new SluiceError('CDC_SLOT_BUSY', `slot ${source.slot} is in use by pid ${slot.activePid}`);
    }
    if ((await readSnapshotDone(conn.kafka!, source.stateTopic, key)) === undefined) {
      log.warn({ slot: source.slot }, 'the slot has no finished snapshot (a crash mid-snapshot?): taking a new one');
      await dropSlot(db, source.slot);
      slot = undefined;
    }
  }
  if (slot?.confirmedFlush) return slot.confirmedFlush;
  const created = await createSlotWithSnapshot(conn.pgConfig('sluice-cdc-slot'), source.slot);
  await publishSnapshot(conn, targets, created, source.snapshotPageSize);
  await writeSnapshotDone(conn, source.stateTopic, key, created.consistentPoint);
  return created.consistentPoint;
}

/** The source's parts and state; `createPostgresCdcSource` hands out its public face. */
class CdcSource implements PostgresCdcSource {
  readonly config: PostgresCdcSourceConfig;
  readonly metrics: CdcMetrics;
  readonly done: Promise<void>;
  private readonly conn: CdcConnection;
  private readonly opts: CdcSourceOptions;
  private readonly stopping = new AbortController();
  private readonly targets: TableTarget[] = [];
  private stream?: ChangeStream;
  private lagTimer?: NodeJS.Timeout;
  private resolveDone!: () => void;
  private rejectDone!: (err: unknown) => void;

  constructor(cfg: Config, source: PostgresCdcSourceConfig, opts: CdcSourceOptions) {
    this.config = source;
    this.opts = opts;
    this.metrics = createCdcMetrics(opts.registry ?? new client.Registry(), source.slot);
    this.conn = new CdcConnection(cfg, source);
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {}); // observed by the owner
  }

  async refreshLag(): Promise<number | undefined> {
    const { rows } = await this.conn.db!.query(
      `select (pg_current_wal_lsn() - confirmed_flush_lsn)::text as lag from pg_replication_slots where slot_name = $1`,
      [this.config.slot],
    );
    const raw = rows[0]?.lag;
    const lag = raw === undefined || raw === null ? undefined : Math.max(0, Number(raw));
    if (lag !== undefined) this.metrics.lagBytes.set(lag);
    return lag;
  }

  /** One attempt: the slot prepared (snapshot if new) and the stream started from its confirmed LSN. */
  private async connectStream(): Promise<ChangeStream> {
    const { conn, config: source } = this;
    if (!conn.db) {
      await conn.open();
      this.targets.length = 0;
      for (const table of source.tables) {
        this.targets.push({
          spec: TABLE_SPECS[table],
          topic: conn.topicOf(table),
          schemaId: conn.schemaIds.get(table)!,
        });
      }
    }
    const confirmed = await prepareSlot(conn, source, this.targets);
    await this.refreshLag().catch(() => undefined);
    const stream = new ChangeStream(
      {
        conn,
        targets: new Map(this.targets.map((t) => [t.spec.table, t])),
        metrics: this.metrics,
        batchRecords: source.batchRecords,
        statusIntervalMs: source.statusIntervalMs,
      },
      confirmed,
    );
    this.stream = stream;
    await stream.start(source.slot, source.publication);
    log.info({ slot: source.slot, from: formatLsn(confirmed) }, 'CDC streaming');
    return stream;
  }

  private connectWithRetry(): Promise<ChangeStream> {
    return withRetry(() => this.connectStream(), {
      retries: Infinity,
      initialMs: 250,
      maxMs: 10_000,
      maxElapsedMs: this.opts.maxRetryMs,
      retriable: (err) => retriable(err) && !this.stopping.signal.aborted,
      signal: this.stopping.signal,
      onRetry: (err, attempt, delayMs) => {
        const e = asSluiceError(err);
        log.warn({ code: e.code, attempt, retryInMs: delayMs, err: e.message }, 'CDC source retrying');
        void this.stream?.stop();
        // Connections are reopened by the next attempt, unless only the slot was busy or the stream broke.
        if (e.code !== errorCode('CDC_SLOT_BUSY') && e.code !== errorCode('CDC_STREAM_FAILED')) void this.conn.close();
      },
    });
  }

  /** Keeps streaming: a stream that breaks transiently is reconnected from the confirmed LSN. */
  private async supervise(first: ChangeStream): Promise<void> {
    let current = first;
    for (;;) {
      try {
        await current.done;
        return;
      } catch (err) {
        if (this.stopping.signal.aborted || !retriable(err)) throw err;
        log.warn({ code: asSluiceError(err).code, err: (err as Error).message }, 'CDC stream broke; reconnecting');
        current = await this.connectWithRetry();
      }
    }
  }

  async start(): Promise<void> {
    const first = await this.connectWithRetry();
    this.lagTimer = setInterval(() => void this.refreshLag().catch(() => {}), this.config.lagIntervalMs);
    this.lagTimer.unref();
    this.supervise(first).then(this.resolveDone, (err) => {
      log.error({ code: asSluiceError(err).code, err: (err as Error).message }, 'CDC source stopped');
      this.rejectDone(err);
    });
  }

  confirmedLsn(): bigint | undefined {
    return this.stream?.confirmed;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.stream?.stop();
    await this.conn.close();
    this.resolveDone();
  }
}

/**
 * The CDC source: validation here (CONFIG_INVALID before any I/O), connections in `start()`.
 *
 * @example
 *   const cdc = createPostgresCdcSource(cfg, { slot: 'shop_cdc' }, { registry });
 *   await cdc.start();
 *   process.on('SIGTERM', () => void cdc.stop());
 *   await cdc.done;
 */
export function createPostgresCdcSource(
  cfg: Config,
  input: PostgresCdcSourceInput = {},
  opts: CdcSourceOptions = {},
): PostgresCdcSource {
  const source = parseCdcSourceConfig(input, cfg);
  for (const table of source.tables) checkSchemaMatches(TABLE_SPECS[table], loadSchema(`oltp.${table}`));
  return new CdcSource(cfg, source, opts);
}
