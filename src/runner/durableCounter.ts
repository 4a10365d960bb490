import type { EngineMetrics } from '../engine/engineMetrics.ts';
import type { Output } from '../topology/types.ts';

/**
 * Counts each output as it becomes durable: dead letters by source topic and reason, the rest by
 * output topic — through a label-bound child per topic, since a label hash per record costs more
 * than the count.
 *
 * @example const onDurable = durableCounter(metrics, 'clickstream'); onDurable(output);
 */
export function durableCounter(metrics: EngineMetrics, topology: string): (o: Output) => void {
  const outByTopic = new Map<string, { inc(): void }>();
  return (o) => {
    if (o.kind === 'dlq') {
      const reason = o.reason ?? 'processing';
      metrics.recordsDlq.inc({ topology, topic: o.source?.topic ?? o.topic, reason });
      return;
    }
    let out = outByTopic.get(o.topic);
    if (!out) {
      out = metrics.recordsOut.labels({ topology, topic: o.topic });
      outByTopic.set(o.topic, out);
    }
    out.inc();
  };
}
