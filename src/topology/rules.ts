import type { Rule, RuleContext } from './types.ts';

/**
 * Data-quality rule constructors. Each rule is named (the name is what metrics, DLQ headers
 * and `describe` show) and checks one field of a decoded value.
 *
 * @example
 *   rules: [notNull('session_present', 'session_id'), range('price_range', 'price', { min: 0, max: 100_000 })]
 */

function field(value: unknown, path: string): unknown {
  let cur: unknown = value;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const isMissing = (v: unknown) => v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

export function notNull(name: string, path: string): Rule {
  return {
    name,
    kind: 'not_null',
    field: path,
    check: (v) => (isMissing(field(v, path)) ? `${path} is missing` : undefined),
    describe: () => `${path} is not null/empty`,
  };
}

export function inSet(name: string, path: string, allowed: readonly (string | number)[]): Rule {
  const set = new Set(allowed);
  return {
    name,
    kind: 'in_set',
    field: path,
    check: (v) => {
      const x = field(v, path);
      return set.has(x as string) ? undefined : `${path}=${JSON.stringify(x)} is not one of ${[...set].join(', ')}`;
    },
    describe: () => `${path} in {${[...set].join(', ')}}`,
  };
}

/** Numbers, decimal strings and timestamps; `max` may be a function of the clock (e.g. "not in the future"). */
export function range(
  name: string,
  path: string,
  bounds: { min?: number; max?: number | ((ctx: RuleContext) => number) },
): Rule {
  return {
    name,
    kind: 'range',
    field: path,
    check: (v, ctx) => {
      const raw = field(v, path);
      if (raw === null || raw === undefined) return undefined; // absence is not_null's business
      const x = typeof raw === 'number' ? raw : Number(raw);
      if (Number.isNaN(x)) return `${path} is not a number`;
      const max = typeof bounds.max === 'function' ? bounds.max(ctx) : bounds.max;
      if (bounds.min !== undefined && x < bounds.min) return `${path}=${raw} is below ${bounds.min}`;
      if (max !== undefined && x > max) return `${path}=${raw} is above ${max}`;
      return undefined;
    },
    describe: () =>
      `${bounds.min ?? '-∞'} ≤ ${path} ≤ ${typeof bounds.max === 'function' ? 'f(now)' : (bounds.max ?? '∞')}`,
  };
}

export function regex(name: string, path: string, pattern: RegExp): Rule {
  return {
    name,
    kind: 'regex',
    field: path,
    check: (v) => {
      const x = field(v, path);
      if (x === null || x === undefined) return undefined;
      return pattern.test(String(x)) ? undefined : `${path} does not match ${pattern}`;
    },
    describe: () => `${path} matches ${pattern}`,
  };
}

/**
 * The same `path` value as an accepted record's, within `windowMs` of event time, is a
 * duplicate. The engine keeps the accepted ids in durable state (a compacted changelog per rule,
 * restored on restart and rebalance, consulted by `replay-dlq`; see engine/dedupeStore.ts).
 * Event time is `eventTime` (a field path or a function of the value), else the record's Kafka
 * timestamp. Scope: one partition of the topic the rule validates — duplicates must share a
 * partition, so the topic's key must determine the id (repartition by the id otherwise).
 */
export function uniqueWithin(
  name: string,
  path: string,
  windowMs: number,
  opts: { eventTime?: string | ((value: any) => number) } = {},
): Rule {
  const eventTime =
    typeof opts.eventTime === 'string' ? (v: unknown) => Number(field(v, opts.eventTime as string)) : opts.eventTime;
  const time = typeof opts.eventTime === 'string' ? opts.eventTime : opts.eventTime ? 'event time' : 'record timestamp';
  return {
    name,
    kind: 'unique',
    field: path,
    dedupe: { windowMs, eventTime },
    // The check itself needs the durable store, which only the engine has.
    check: () => {
      throw new Error(`rule ${name} is checked by the engine's dedupe store`);
    },
    key: (v: unknown) => {
      const x = field(v, path);
      return x === null || x === undefined ? undefined : String(x);
    },
    describe: () => `${path} unique within ${windowMs}ms of ${time}, per source partition (durable)`,
  };
}

/** The compacted changelog of a `uniqueWithin` rule's durable state. */
export function dedupeChangelogTopic(topology: string, rule: Pick<Rule, 'name' | 'dedupe'>): string {
  return `sluice.${topology}.${rule.dedupe?.store ?? rule.name}.dedupe.changelog`;
}

/** The value under `path` exists as a key of the reference table `table`. */
export function references(name: string, path: string, table: string): Rule & { table: string } {
  return {
    name,
    kind: 'referential',
    field: path,
    table,
    check: (v, ctx) => {
      const x = field(v, path);
      if (x === null || x === undefined) return undefined;
      return ctx.table(table).has(String(x)) ? undefined : `${path}=${x} not found in ${table}`;
    },
    describe: () => `${path} exists in ${table}`,
  };
}

export function custom<T>(
  name: string,
  describe: string,
  check: (value: T, ctx: RuleContext) => string | undefined,
): Rule<T> {
  return { name, kind: 'custom', check, describe: () => describe };
}
