import { createLogger } from '../core/log.ts';
import type { EngineMetrics } from '../engine/engineMetrics.ts';
import type { Consumer } from '../kafka/kafkaTypes.ts';
import type { PartitionFlow } from './partitionFlow.ts';

const log = createLogger('runner');

/**
 * Commits what is durable: every partition's committable offset (one past the longest run of
 * records whose outputs are all durable), one commit at a time so commits never overtake each
 * other. A commit lost to a rebalance is harmless: its records are processed again.
 */
export class Committer {
  private committing: Promise<void> = Promise.resolve();
  private readonly topology: string;
  private readonly flow: PartitionFlow;
  private readonly metrics: EngineMetrics;

  constructor(topology: string, flow: PartitionFlow, metrics: EngineMetrics) {
    this.topology = topology;
    this.flow = flow;
    this.metrics = metrics;
  }

  /** Commits through `consumer` (none: nothing to commit this way, e.g. exactly-once). */
  commit(consumer: Consumer | undefined): Promise<void> {
    this.committing = this.committing.then(async () => {
      if (!consumer) return;
      const offsets = this.flow.takeCommits();
      if (!offsets.length) return;
      const end = this.metrics.commitLatency.startTimer({ topology: this.topology });
      try {
        await consumer.commitOffsets(offsets);
      } catch (err) {
        log.warn({ topology: this.topology, err: (err as Error).message }, 'offset commit failed');
      } finally {
        end();
      }
    });
    return this.committing;
  }
}
