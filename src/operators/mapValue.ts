import type { OperatorFunction } from 'rxjs';
import type { Envelope } from '../topology/types.ts';
import { functionLabel } from './functionLabel.ts';
import { DROP, mapOrDrop } from './mapOrDrop.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Maps the value, keeping key, source and ack; a throw sends the record to the DLQ
 * (`processing`) with the error's message.
 *
 * @example ops.mapValue((o: Order) => ({ ...o, total: Number(o.total_amount) }), 'toNumbers')
 */
export function mapValue<T, R>(
  ctx: OperatorContext,
  fn: (value: T, env: Envelope<T>) => R,
  name?: string,
): OperatorFunction<Envelope<T>, Envelope<R>> {
  return ctx.graph.operator(
    { operator: 'mapValue', label: `mapValue(${name ?? functionLabel(fn)})`, deadLetters: true },
    mapOrDrop((env: Envelope<T>): Envelope<R> | typeof DROP => {
      try {
        return { ...env, value: fn(env.value, env) } as Envelope<R>;
      } catch (err) {
        ctx.deadLetter(env, 'processing', (err as Error)?.message ?? String(err), { schemaId: env.schemaId });
        return DROP;
      }
    }),
  );
}
