import type pg from 'pg';
import { type RetryOptions, withRetry } from '../../../src/core/retry.ts';
import type { Output, SinkContext, SinkRecordError } from '../../../src/topology/types.ts';
import { accountCommitted, failRows, releaseRows } from './batchOutcome.ts';
import type { WarehouseSinkConfig } from './config.ts';
import { ensureTable } from './ensureTable.ts';
import { flushLanes } from './flushLanes.ts';
import { FlushScheduler } from './flushScheduler.ts';
import { flushTransaction, type StagedTables, type TableResult } from './flushTransaction.ts';
import { type IsolationHost, isolateRejectedRows } from './isolate.ts';
import { type Cut, type Member, planMember } from './member.ts';
import { asPgError, isRetriablePgError, isRowRejection } from './pgErrors.ts';
import type { Unit } from './recordUnits.ts';
import { refusedBeforeSending } from './refusedBeforeSending.ts';
import { createWarehousePool } from './warehousePool.ts';
import { warehouseLog as log } from './warehouseLog.ts';

/**
 * Flushes the pending rows of its members (one table each) in one transaction per flush. A
 * standalone sink has a writer of its own; the sinks of one transaction group in one runner
 * share one (`writerFor`), so their tables and their stored offsets always move together.
 * Connection, pool and retry settings come from the first sink; in a group the most eager
 * member's batching applies.
 *
 * @example
 *   const writer = new WarehouseWriter(cfg, ctx, () => {});
 *   writer.join(member); await writer.connectMember(member); writer.add(member, output);
 */
export class WarehouseWriter implements IsolationHost {
  private readonly members = new Set<Member>();
  private pool: pg.Pool | undefined;
  private connecting: Promise<pg.Pool> | undefined;
  private readonly staged: StagedTables = new WeakMap();
  private readonly scheduler: FlushScheduler<Cut>;
  /** The sink whose connection, pool and retry settings the writer uses. */
  private readonly first: WarehouseSinkConfig;
  private readonly ctx: SinkContext;
  /** Called when the last member leaves (a group forgets its writer). */
  private readonly onEnd: () => void;

  constructor(first: WarehouseSinkConfig, ctx: SinkContext, onEnd: () => void) {
    this.first = first;
    this.ctx = ctx;
    this.onEnd = onEnd;
    this.scheduler = new FlushScheduler({
      batchRecords: () => Math.min(...[...this.members].map((m) => m.cfg.batchRecords)),
      lingerMs: () => Math.min(...[...this.members].map((m) => m.cfg.lingerMs)),
      takePending: () => this.takePending(),
      write: (cut) => this.writeBatch(cut),
    });
  }

  /** Adds a sink's table to this writer. */
  join(m: Member): void {
    this.members.add(m);
  }

  /** Plans the member's table and creates or evolves it (once; again after a failure). */
  connectMember(m: Member): Promise<void> {
    m.connecting ??= (async () => {
      const plan = planMember(m);
      const pool = await this.connectPool();
      try {
        await withRetry(() => ensureTable(pool, m), this.retryOptions('warehouse DDL'));
      } catch (err) {
        throw asPgError(err, `warehouse sink ${m.name}: cannot create or evolve ${plan.schema}.${plan.table}`);
      }
      const table = `${plan.schema}.${plan.table}`;
      const group = m.cfg.transactionGroup || undefined;
      log.info({ sink: m.name, table, mode: plan.mode, group }, 'warehouse sink connected');
    })().catch((err) => {
      m.connecting = undefined;
      throw err;
    });
    return m.connecting;
  }

  /** Queues one row of the member's table for the next flush. */
  add(m: Member, output: Output): void {
    m.pending.push(output);
    m.stats.pending = m.pending.length;
    this.scheduler.added();
  }

  /** Flushes everything pending now. */
  flush(): Promise<void> {
    return this.scheduler.flush();
  }

  /** The member leaves after a last flush (bounded by `deadlineMs`); the last one out closes the pool. */
  async leave(m: Member, deadlineMs: number): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.flush(),
        new Promise<void>((resolve) => {
          timeout = setTimeout(resolve, deadlineMs);
        }),
      ]);
    } finally {
      clearTimeout(timeout);
      m.closed = true;
      if ([...this.members].every((x) => x.closed)) {
        this.scheduler.stop();
        this.onEnd();
        await this.pool?.end().catch(() => {});
        this.pool = undefined;
        this.connecting = undefined;
      }
    }
  }

  /** A query through the writer's pool (offset look-ups), outside any flush transaction. */
  async query<R extends pg.QueryResultRow>(sql: string, args: unknown[]): Promise<pg.QueryResult<R>> {
    const pool = await this.connectPool();
    return pool.query<R>(sql, args);
  }

  /** The names of the writer's sinks. */
  sinkNames(): string[] {
    return [...this.members].map((m) => m.name);
  }

  /** One flush transaction, with retries of what is retriable (connection loss, serialization failure, deadlock). */
  landOnce(cut: Cut, advance: Unit[], isolating: boolean): Promise<TableResult[]> {
    const taking = new Set([...cut.map(([m]) => m), ...advance.flatMap((u) => [...u.rows.keys()])]);
    return withRetry(
      () => flushTransaction(this.pool!, this.staged, cut, advance, isolating),
      this.retryOptions('warehouse flush', () => {
        for (const m of taking) m.stats.retries++;
      }),
    );
  }

  private retryOptions(what: string, onRetry?: () => void): RetryOptions {
    return {
      retries: this.first.retries,
      initialMs: this.first.retryInitialMs,
      maxMs: this.first.retryMaxMs,
      retriable: isRetriablePgError,
      onRetry: (err, attempt) => {
        onRetry?.();
        log.warn({ sinks: this.sinkNames(), attempt, err: (err as Error).message }, `${what} failed; retrying`);
      },
    };
  }

  private connectPool(): Promise<pg.Pool> {
    this.connecting ??= (async () => {
      const pool = createWarehousePool(this.first, this.ctx);
      this.pool = pool;
      return pool;
    })();
    return this.connecting;
  }

  private takePending(): Cut {
    const cut: Cut = [];
    for (const m of this.members) {
      if (m.pending.length) cut.push([m, m.pending]);
      m.pending = [];
      m.stats.pending = 0;
    }
    return cut;
  }

  /** Lands a cut in lanes side by side (`flushLanes`); the next flush starts once every lane is done. */
  private async writeBatch(cut: Cut): Promise<void> {
    await Promise.all(flushLanes(cut, this.first.flushLanes).map((lane) => this.writeLane(lane)));
  }

  /** Lands a lane; a row the tables refuse sends it through isolation, anything else fails its rows. */
  private async writeLane(cut: Cut): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      for (const [m] of cut) await this.connectMember(m);
    } catch (err) {
      failRows(cut, err);
      return;
    }
    // The members of a writer belong to one runner: one dead-letter queue for all of them.
    const deadLetter = cut[0]?.[0].ctx.deadLetter;
    const refused = deadLetter ? refusedBeforeSending(cut) : new Map<Output, SinkRecordError>();
    if (deadLetter && refused.size) {
      await isolateRejectedRows(this, cut, deadLetter, refused, undefined);
      return;
    }
    try {
      const result = await this.landOnce(cut, [], false);
      accountCommitted(cut, result, started);
      releaseRows(cut);
    } catch (err) {
      // Without a dead-letter queue (unit tests without a runner) a refused row fails its batch.
      if (deadLetter && isRowRejection(err)) await isolateRejectedRows(this, cut, deadLetter, refused, err);
      else failRows(cut, err);
    }
  }
}
