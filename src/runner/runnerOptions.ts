import type { PartitionFlow } from './partitionFlow.ts';

/** How a topology runner paces itself and what it reports (see topologyRunner.ts). */
export interface RunnerOptions {
  /** Wait for room at this many records in flight per partition (default `cfg.maxInFlightRecords`). */
  maxInFlightPerPartition?: number;
  /** Wait for room at this many bytes in flight per partition (default `cfg.maxInFlightBytes`). */
  maxInFlightBytesPerPartition?: number;
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

/** A runner's status for /readyz: ready while running and not stalled (lag or in-flight with no progress). */
export function runnerStatus(
  topology: string,
  running: boolean,
  assignment: Record<string, number[]>,
  flow: PartitionFlow,
  stallMs: number,
): RunnerStatus {
  const lag = flow.totalLag;
  const inFlight = flow.inFlight;
  const stalled = (lag > 0 || inFlight > 0) && Date.now() - flow.lastProgressAt > stallMs;
  return {
    topology,
    running,
    assigned: Object.values(assignment).reduce((n, ps) => n + ps.length, 0),
    paused: flow.pausedCount,
    inFlight,
    lag,
    lastProgressAt: flow.lastProgressAt,
    ready: running && !stalled,
  };
}
