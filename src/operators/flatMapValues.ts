import type { OperatorFunction } from 'rxjs';
import type { Envelope } from '../topology/types.ts';
import { functionLabel } from './functionLabel.ts';
import { mapToMany } from './mapOrDrop.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * One value in, any number out (Kafka Streams' `flatMapValues`): every copy keeps the input's
 * key, source and ack, so the input commits once all its copies are durable. A throw sends the
 * record to the DLQ (`processing`).
 *
 * @example ops.flatMapValues((item: OrderItem) => [{ group: item.category }, { group: ALL }], 'byCategoryAndAll')
 */
export function flatMapValues<T, R>(
  ctx: OperatorContext,
  fn: (value: T) => R[],
  name?: string,
): OperatorFunction<Envelope<T>, Envelope<R>> {
  return ctx.graph.operator(
    { operator: 'flatMapValues', label: `flatMapValues(${name ?? functionLabel(fn)})`, deadLetters: true },
    mapToMany((env: Envelope<T>): Envelope<R>[] => {
      let values: R[];
      try {
        values = fn(env.value);
      } catch (err) {
        ctx.deadLetter(env, 'processing', (err as Error)?.message ?? String(err), { schemaId: env.schemaId });
        return [];
      }
      return values.map((value) => ({ ...env, value }));
    }),
  );
}
