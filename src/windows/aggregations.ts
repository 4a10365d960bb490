/**
 * Window aggregations. Accumulators are plain JSON values: they go to the changelog as they are
 * and come back on restore. `merge` joins two accumulators (session windows that grow together).
 *
 * @example
 *   aggregate: combine({ orders: count(), revenue: sum((o) => Number(o.total_amount)) })
 */
export interface Aggregation<T, A> {
  init(): A;
  add(acc: A, value: T): A;
  merge(a: A, b: A): A;
}

export const count = <T>(): Aggregation<T, number> => ({ init: () => 0, add: (a) => a + 1, merge: (a, b) => a + b });

export const sum = <T>(of: (v: T) => number): Aggregation<T, number> => ({
  init: () => 0,
  add: (a, v) => a + of(v),
  merge: (a, b) => a + b,
});

export const min = <T>(of: (v: T) => number): Aggregation<T, number | null> => ({
  init: () => null,
  add: (a, v) => (a === null ? of(v) : Math.min(a, of(v))),
  merge: (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
});

export const max = <T>(of: (v: T) => number): Aggregation<T, number | null> => ({
  init: () => null,
  add: (a, v) => (a === null ? of(v) : Math.max(a, of(v))),
  merge: (a, b) => (a === null ? b : b === null ? a : Math.max(a, b)),
});

export const average = <T>(of: (v: T) => number): Aggregation<T, { sum: number; n: number }> => ({
  init: () => ({ sum: 0, n: 0 }),
  add: (a, v) => ({ sum: a.sum + of(v), n: a.n + 1 }),
  merge: (a, b) => ({ sum: a.sum + b.sum, n: a.n + b.n }),
});

/**
 * How many keys a `distinct` accumulator holds, kept beside it: a provisional result is computed
 * on every change, and counting the keys of a window of 15,000 sessions each time was most of a
 * metrics runner's CPU at 1,000 events/s. An accumulator that comes back from a changelog is
 * counted once, on first use.
 */
const distinctSizes = new WeakMap<Record<string, 1>, number>();

/** Distinct values seen (kept as an object of keys: bounded by the window's distinct count). */
export const distinct = <T>(of: (v: T) => string | number | null | undefined): Aggregation<T, Record<string, 1>> => ({
  init: () => {
    const acc: Record<string, 1> = {};
    distinctSizes.set(acc, 0);
    return acc;
  },
  add: (a, v) => {
    const k = of(v);
    if (k === null || k === undefined) return a;
    const key = String(k);
    if (a[key] === 1) return a;
    a[key] = 1;
    const n = distinctSizes.get(a);
    if (n !== undefined) distinctSizes.set(a, n + 1);
    return a;
  },
  merge: (a, b) => {
    distinctSizes.delete(a);
    return Object.assign(a, b);
  },
});

/**
 * Sums `of(v)` once per distinct `idOf(v)`: an entity extracted twice in a window (an order row
 * re-published after an update) counts once.
 */
export const sumDistinct = <T>(
  idOf: (v: T) => string | number,
  of: (v: T) => number,
): Aggregation<T, { total: number; seen: Record<string, number> }> => ({
  init: () => ({ total: 0, seen: {} }),
  add: (a, v) => {
    const id = String(idOf(v));
    if (!(id in a.seen)) {
      const x = of(v);
      a.seen[id] = x;
      a.total += x;
    }
    return a;
  },
  merge: (a, b) => {
    for (const [id, x] of Object.entries(b.seen))
      if (!(id in a.seen)) {
        a.seen[id] = x;
        a.total += x;
      }
    return a;
  },
});

export function distinctCount(acc: Record<string, 1>): number {
  let n = distinctSizes.get(acc);
  if (n === undefined) {
    n = Object.keys(acc).length;
    distinctSizes.set(acc, n);
  }
  return n;
}

/** A user reducer: `reduce(acc, value)` with an initial value, merged by `merge` (default: keep b). */
export const reducer = <T, A>(
  init: () => A,
  reduce: (acc: A, v: T) => A,
  merge: (a: A, b: A) => A = (_a, b) => b,
): Aggregation<T, A> => ({ init, add: reduce, merge });

/** Several aggregations side by side, under names. */
export function combine<T, S extends Record<string, Aggregation<T, any>>>(
  parts: S,
): Aggregation<T, { [K in keyof S]: ReturnType<S[K]['init']> }> {
  const entries = Object.entries(parts);
  return {
    init: () => Object.fromEntries(entries.map(([k, a]) => [k, a.init()])) as never,
    add: (acc, v) => {
      for (const [k, a] of entries) (acc as Record<string, unknown>)[k] = a.add((acc as Record<string, unknown>)[k], v);
      return acc;
    },
    merge: (x, y) => {
      for (const [k, a] of entries)
        (x as Record<string, unknown>)[k] = a.merge(
          (x as Record<string, unknown>)[k],
          (y as Record<string, unknown>)[k],
        );
      return x;
    },
  };
}
