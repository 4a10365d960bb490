import type { ExtractPosition } from './positions.ts';

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

/** Totals before any run. */
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
