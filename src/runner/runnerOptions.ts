/** How a topology runner paces itself and what it reports (see topologyRunner.ts). */
export interface RunnerOptions {
  /** Pause a partition at this many records in flight; resume at half. */
  maxInFlightPerPartition?: number;
  commitIntervalMs?: number;
  /** A partition with lag and no progress for this long makes the runner not ready. */
  stallMs?: number;
  groupId?: string;
}

export interface RunnerStatus {
  topology: string;
  running: boolean;
  assigned: number;
  paused: number;
  inFlight: number;
  lag: number;
  lastProgressAt: number;
  ready: boolean;
}
