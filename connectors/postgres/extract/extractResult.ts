import type { OltpTable } from '../../../src/shop/oltp/oltpTables.ts';
import type { ExtractPosition } from './positions.ts';

/**
 * How a table's run started: `incremental` from its stored position, `snapshot` because it had
 * none, `full` (--full) or `since` (--since). All but `incremental` publish op 'r'.
 */
export type ExtractMode = 'incremental' | 'snapshot' | 'full' | 'since';

/** What one table's run did. */
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

/** What one extract run did. */
export interface ExtractResult {
  /** Per extracted table, in extraction order. */
  tables: Record<string, TableExtractResult>;
  rows: number;
  elapsedMs: number;
  /** True when the signal stopped the run early (everything reported was still made durable). */
  aborted: boolean;
}

/** Progress of the table being read, about every second and once when it is done. */
export interface ExtractProgress {
  table: OltpTable;
  rows: number;
  elapsedMs: number;
  rowsPerSecond: number;
  done: boolean;
}
