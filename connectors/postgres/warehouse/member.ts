import { isSluiceError } from '../../../src/core/errors.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import type { Output, SinkContext } from '../../../src/topology/types.ts';
import { defaultTableName, type TablePlan, tablePlanOf } from './avroToPg.ts';
import type { WarehouseSinkConfig } from './config.ts';
import { mergeSql } from './merge.ts';
import { copySql, stageTableSql } from './stage.ts';
import { warehouseLog as log } from './warehouseLog.ts';

/** What a warehouse sink reports (metrics, tests). */
export interface WarehouseSinkStats {
  /** Committed flush transactions this table took part in. */
  batches: number;
  /** Rows merged (records the warehouse already had are not counted). */
  rows: number;
  /** Bytes sent through COPY for this table. */
  bytes: number;
  /** Time spent in committed flush transactions, total and last (shared by a transaction group). */
  flushSeconds: number;
  lastFlushSeconds: number;
  retries: number;
  /** Flushes given up (their records' acks failed). */
  failures: number;
  /** Records skipped because the warehouse already had them (replays after a crash or rebalance). */
  skippedReplays: number;
  /** Epoch ms of the last committed flush; 0 before the first. */
  lastFlushAt: number;
  /** Records waiting for the next flush. */
  pending: number;
  /** Records of this table handed to `<source>.dlq` (reason `sink`): rows the table can never take. */
  deadLettered: number;
  /** Flush transactions this table took part in, committed or rolled back (retries and isolation included). */
  transactions: number;
  /** Batches a rejected row made split (bisection) to find the rows to dead-letter. */
  isolations: number;
  /** Transactions spent isolating: the halves tried, and the offsets-only one that stores dead letters' offsets. */
  isolationTransactions: number;
}

/** One table's share of a writer: one sink's config, table, pending rows and stats. */
export interface Member {
  name: string;
  cfg: WarehouseSinkConfig;
  table: string;
  ctx: SinkContext;
  plan?: TablePlan;
  sql?: { copy: string; merge: string[]; stage: string[] };
  /** Columns written as text (`text`, `uuid`): checked for NUL bytes before a batch is sent. */
  textColumns?: string[];
  pending: Output[];
  stats: WarehouseSinkStats;
  connecting?: Promise<void>;
  closed: boolean;
}

/** The pending rows of a flush, per member (table). */
export type Cut = [Member, Output[]][];

/**
 * A new member for a sink's config (no I/O): named `<schema>.<table>` unless the config names it.
 *
 * @example const m = createMember(parseWarehouseSinkConfig(options), ctx);
 */
export function createMember(cfg: WarehouseSinkConfig, ctx: SinkContext): Member {
  const table = cfg.table || defaultTableName(cfg.avroSchema);
  return {
    name: cfg.name || `${cfg.schema}.${table}`,
    cfg,
    table,
    ctx,
    pending: [],
    stats: {
      batches: 0,
      rows: 0,
      bytes: 0,
      flushSeconds: 0,
      lastFlushSeconds: 0,
      retries: 0,
      failures: 0,
      skippedReplays: 0,
      lastFlushAt: 0,
      pending: 0,
      deadLettered: 0,
      transactions: 0,
      isolations: 0,
      isolationTransactions: 0,
    },
    closed: false,
  };
}

/** Resolves the member's table from its Avro schema and prepares its SQL (no I/O). Throws CONFIG_INVALID. */
export function planMember(m: Member): TablePlan {
  const plan = tablePlanOf({ ...m.cfg, table: m.table }, resolveSchema(m));
  m.plan = plan;
  m.sql = {
    copy: copySql(plan, m.name),
    merge: mergeSql(plan, m.name, m.cfg.deleteWhen !== undefined),
    stage: stageTableSql(plan, m.name),
  };
  m.textColumns = plan.columns.filter((c) => c.kind === 'text' || c.kind === 'uuid').map((c) => c.name);
  return plan;
}

function resolveSchema(m: Member): { [k: string]: unknown } {
  const s = m.cfg.avroSchema;
  if (typeof s !== 'string') return s;
  try {
    return loadSchema(s) as unknown as { [k: string]: unknown };
  } catch (err) {
    if (!isSluiceError(err, 'SCHEMA_NOT_FOUND')) throw err;
    // Not a file schema: the runner's type (it does not keep logical timestamp attributes).
    log.warn({ sink: m.name, schema: s }, 'schema not under schemas/; using the runner type, timestamps become bigint');
    return m.ctx.schemaFor(s).schema({ exportAttrs: true }) as unknown as { [k: string]: unknown };
  }
}
