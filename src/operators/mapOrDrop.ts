import { Observable, type OperatorFunction } from 'rxjs';

/** What a `mapOrDrop` or `mapToMany` function returns for a record that goes no further. */
export const DROP: unique symbol = Symbol('drop');

/**
 * Maps each value to one value or to nothing (`DROP`), synchronously: what
 * `mergeMap(v => ok ? of(x) : EMPTY)` does, without an inner observable and subscription per
 * record (on the hot path those cost more than the work). An error thrown by `fn` errors the
 * stream, as in mergeMap.
 *
 * @example source.pipe(mapOrDrop((env) => (valid(env) ? decoded(env) : DROP)))
 */
export function mapOrDrop<T, R>(fn: (value: T) => R | typeof DROP): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) =>
      source.subscribe({
        next(value) {
          let out: R | typeof DROP;
          try {
            out = fn(value);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (out !== DROP) subscriber.next(out);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}

/** Like `mapOrDrop`, for functions that give any number of values per record. */
export function mapToMany<T, R>(fn: (value: T) => readonly R[]): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) =>
      source.subscribe({
        next(value) {
          let out: readonly R[];
          try {
            out = fn(value);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          for (const v of out) subscriber.next(v);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}
