import type { OperatorFunction } from 'rxjs';
import type { Envelope } from '../topology/types.ts';
import { DROP, mapOrDrop } from './mapOrDrop.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Parses JSON values (records read back from a repartition topic); a value that is not JSON
 * leaves for the DLQ (`deserialize`).
 */
export function fromJson<T>(ctx: OperatorContext): OperatorFunction<Envelope<Buffer | null>, Envelope<T>> {
  return ctx.graph.operator(
    { operator: 'fromJson', label: 'fromJson', deadLetters: true },
    mapOrDrop((env: Envelope<Buffer | null>): Envelope<T> | typeof DROP => {
      try {
        return { ...env, value: JSON.parse(env.value!.toString('utf8')) as T };
      } catch (err) {
        ctx.deadLetter(env, 'deserialize', `not JSON: ${(err as Error).message}`);
        return DROP;
      }
    }),
  );
}
