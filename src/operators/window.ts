import type { OperatorFunction } from 'rxjs';
import { SluiceError } from '../core/errors.ts';
import { loadType } from '../domain/schemas.ts';
import type { Envelope, Output } from '../topology/types.ts';
import { createWindowOperator } from '../windows/windowOperator.ts';
import { describeWindow } from '../windows/windowTypes.ts';
import type { WindowSpec } from '../windows/windowSpec.ts';
import { mapToMany } from './mapOrDrop.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * A keyed event-time window aggregation with durable state (see src/windows/windowOperator.ts):
 * provisional results while a window is open, one final when the watermark closes it, late
 * records to the late topic; results go to `spec.output`.
 *
 * @example
 *   ops.window({ store: 'orders_per_minute', output: 'metrics.orders_per_minute', window: tumbling(60_000), ... })
 */
export function window<T, A, R>(
  ctx: OperatorContext,
  spec: WindowSpec<T, A, R>,
): OperatorFunction<Envelope<T>, Output> {
  const out = ctx.output(spec.output, `window store ${spec.store}`);
  if (out.sink) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `topology ${ctx.topology}: window ${spec.store} must write to a Kafka topic`,
    );
  }
  const op = createWindowOperator(spec, {
    topology: ctx.topology,
    now: () => ctx.now(),
    emit: (o) => ctx.emit(o),
    tracker: (topic, create) => ctx.stores.tracker(topic, create),
    outputSchema: { name: out.schema, type: loadType(out.schema) },
    onLate: ctx.metrics.late,
    onWindowsOpen: ctx.metrics.windowsOpen,
    onEmitDelay: ctx.metrics.emitDelay,
  });
  ctx.stores.addWindow(op);
  return ctx.graph.operator(
    {
      operator: 'window',
      label: `window(${spec.store}: ${describeWindow(spec.window)})`,
      writes: [{ topic: spec.output }],
      state: [op.changelog],
      late: op.lateTopic,
    },
    mapToMany((env: Envelope<T>): never[] => {
      op.push(env);
      return [];
    }),
  );
}
