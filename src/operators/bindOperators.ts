import { merge, type Observable, share } from 'rxjs';
import type avro from 'avsc';
import type { Operators } from '../topology/types.ts';
import { decode } from './decode.ts';
import { enrich } from './enrich.ts';
import { filterValue } from './filterValue.ts';
import { flatMapValues } from './flatMapValues.ts';
import { fromJson } from './fromJson.ts';
import { keyBy } from './keyBy.ts';
import { mapValue } from './mapValue.ts';
import { maskPii } from './maskPii.ts';
import type { OperatorContext } from './operatorContext.ts';
import { repartition } from './repartition.ts';
import { step } from './step.ts';
import { toTopic } from './toTopic.ts';
import { validate } from './validate.ts';
import { window } from './window.ts';

/**
 * The `ops` a topology's pipeline is built with: every operator bound to one instance's context.
 * `readers` are the sources' reader schemas, by topic.
 */
export function bindOperators(ctx: OperatorContext, readers: ReadonlyMap<string, avro.Type>): Operators {
  return {
    decode: () => decode(ctx, readers),
    validate: (rules) => validate(ctx, rules),
    mapValue: (fn, name) => mapValue(ctx, fn, name),
    flatMapValues: (fn, name) => flatMapValues(ctx, fn, name),
    filterValue: (fn, name) => filterValue(ctx, fn, name),
    enrich: (table, keyOf, join) => enrich(ctx, table, keyOf, join),
    maskPii: (zone, opts) => maskPii(ctx, zone, opts),
    keyBy: (fn, name) => keyBy(ctx, fn, name),
    toTopic: (topic) => toTopic(ctx, topic),
    repartition: (topic, opts) => repartition(ctx, topic, opts),
    fromJson: () => fromJson(ctx),
    window: (spec) => window(ctx, spec),
    step: (name, operator) => step(ctx, name, operator),
    merge: <T>(...streams: Observable<T>[]) => ctx.graph.carry(streams, merge(...streams)),
    share:
      <T>() =>
      (upstream: Observable<T>) =>
        ctx.graph.carry([upstream], upstream.pipe(share())),
  };
}
