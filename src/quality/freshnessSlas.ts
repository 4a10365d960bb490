import { z } from 'zod';
import { parseDuration } from '../core/pacing.ts';
import type { Setting } from '../config/settingSchemas.ts';

/**
 * Freshness SLAs, declared beside what reads them (`measureFreshness.ts`): per source topic and
 * warehouse table, how old its newest data may be before it warns and before it is in breach.
 *
 * Time sources, and why:
 * - A topic: the Kafka record timestamp of its newest record (the newest of the last records of
 *   every partition). The extract sets none, so the producer stamps each record when it is sent,
 *   moments after the page's `extracted_at` was taken: the same instant, without decoding Avro or
 *   asking the registry. The clickstream collector produces each click as it happens, so its
 *   timestamps follow `event_time` — but unlike the newest `event_time` they cannot be pushed into
 *   the future by a bad record (the generator sends `future_event_time` ones on purpose), which
 *   would make a dead stream look fresh. Topologies copy the source record's timestamp to their
 *   outputs (`toTopic`), so a `silver.*` age is the age since extraction or click, end to end.
 * - A warehouse table: `max(column)`. `silver.orders.extracted_at` measures the whole path from
 *   the shop to the warehouse; gold facts have no `extracted_at`, so `_loaded_at` (the last merge).
 *
 * An empty or missing subject is in breach: no data is not fresh data.
 */

export type FreshnessState = 'fresh' | 'warn' | 'breach';

interface SlaLimits {
  /** Older than this warns. */
  warnAfterMs: number;
  /** Older than this is in breach. */
  breachAfterMs: number;
}

export type FreshnessSla =
  | (SlaLimits & { kind: 'topic'; subject: string; topic: string })
  | (SlaLimits & { kind: 'table'; subject: string; schema: string; table: string; column: string });

const MIN = 60_000;
const HOUR = 60 * MIN;

function topic(name: string, warnAfterMs: number, breachAfterMs: number): FreshnessSla {
  return { kind: 'topic', subject: name, topic: name, warnAfterMs, breachAfterMs };
}

function table(schema: string, name: string, column: string, warnAfterMs: number, breachAfterMs: number): FreshnessSla {
  return {
    kind: 'table',
    subject: `warehouse:${schema}.${name}`,
    schema,
    table: name,
    column,
    warnAfterMs,
    breachAfterMs,
  };
}

/**
 * The defaults: orders fresh within 15 min, alert past 30 (issue 14: "data freshness < 15 min,
 * alert > 30 min"); clicks within 5 min, alert past 10. Customers and products change far less
 * often than orders are placed, and the extract sends only changed rows, so a quiet hour there is
 * normal: they warn after 6 h and are in breach after a day without a change.
 */
export const DEFAULT_FRESHNESS_SLAS: readonly FreshnessSla[] = [
  topic('oltp.orders', 15 * MIN, 30 * MIN),
  topic('oltp.order_items', 15 * MIN, 30 * MIN),
  topic('oltp.customers', 6 * HOUR, 24 * HOUR),
  topic('oltp.products', 6 * HOUR, 24 * HOUR),
  topic('web.clickstream', 5 * MIN, 10 * MIN),
  topic('silver.orders', 15 * MIN, 30 * MIN),
  topic('silver.order_items', 15 * MIN, 30 * MIN),
  topic('silver.customers', 6 * HOUR, 24 * HOUR),
  topic('silver.products', 6 * HOUR, 24 * HOUR),
  topic('silver.clickstream', 5 * MIN, 10 * MIN),
  table('silver', 'orders', 'extracted_at', 15 * MIN, 30 * MIN),
  table('gold', 'fact_orders', '_loaded_at', 15 * MIN, 30 * MIN),
  table('gold', 'fact_order_items', '_loaded_at', 15 * MIN, 30 * MIN),
];

/**
 * The state of data `ageMs` old; unknown age (empty, missing, not measured) is a breach.
 *
 * @example freshnessState(20 * 60_000, { warnAfterMs: 15 * 60_000, breachAfterMs: 30 * 60_000 }) // 'warn'
 */
export function freshnessState(ageMs: number | null, sla: SlaLimits): FreshnessState {
  if (ageMs === null) return 'breach';
  if (ageMs > sla.breachAfterMs) return 'breach';
  if (ageMs > sla.warnAfterMs) return 'warn';
  return 'fresh';
}

// Kafka's legal topic characters; Postgres names as unquoted identifiers (quoted anyway in the SQL).
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const TABLE = /^warehouse:([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$/;

/** One entry, `SUBJECT=WARN/BREACH`; throws a RangeError saying what is wrong with it. */
function parseEntry(entry: string): FreshnessSla {
  const m = /^([^=\s]+)\s*=\s*([^/\s]+)\s*\/\s*(\S+)$/.exec(entry);
  if (!m) throw new RangeError(`"${entry}" is not SUBJECT=WARN/BREACH (e.g. oltp.orders=15m/30m)`);
  const [, subject, warnText, breachText] = m;
  const warnAfterMs = parseDuration(warnText);
  const breachAfterMs = parseDuration(breachText);
  if (warnAfterMs <= 0) throw new RangeError(`"${entry}": the warn age must be above 0`);
  if (breachAfterMs < warnAfterMs) throw new RangeError(`"${entry}": the breach age is below the warn age`);
  const t = TABLE.exec(subject);
  if (t) return table(t[1], t[2], t[3], warnAfterMs, breachAfterMs);
  if (subject.startsWith('warehouse:'))
    throw new RangeError(
      `"${subject}" is not warehouse:SCHEMA.TABLE.COLUMN (e.g. warehouse:gold.fact_orders._loaded_at)`,
    );
  if (!TOPIC.test(subject)) throw new RangeError(`"${subject}" is not a Kafka topic name`);
  return topic(subject, warnAfterMs, breachAfterMs);
}

/**
 * Parses the SLA list of SLUICE_FRESHNESS_SLAS: comma-separated `SUBJECT=WARN/BREACH`, where
 * SUBJECT is a topic or `warehouse:SCHEMA.TABLE.COLUMN` and the ages are durations (30s, 15m, 2h,
 * 1d). Empty: the defaults. Throws a RangeError naming every bad entry.
 *
 * @example parseFreshnessSlas('oltp.orders=15m/30m,warehouse:gold.fact_orders._loaded_at=1h/2h')
 */
export function parseFreshnessSlas(text: string): FreshnessSla[] {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (!entries.length) return [...DEFAULT_FRESHNESS_SLAS];
  const problems: string[] = [];
  const slas: FreshnessSla[] = [];
  for (const entry of entries) {
    try {
      const sla = parseEntry(entry);
      if (slas.some((s) => s.subject === sla.subject)) problems.push(`${sla.subject} is listed twice`);
      else slas.push(sla);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new RangeError(problems.join('; '));
  return slas;
}

/** An SLA in the syntax of SLUICE_FRESHNESS_SLAS: `parseFreshnessSlas(formatFreshnessSla(s))` is `[s]`. */
export function formatFreshnessSla(sla: FreshnessSla): string {
  const limits = `${sla.warnAfterMs / 1000}s/${sla.breachAfterMs / 1000}s`;
  return sla.kind === 'topic'
    ? `${sla.topic}=${limits}`
    : `warehouse:${sla.schema}.${sla.table}.${sla.column}=${limits}`;
}

/** The SLA list setting: a string (or, in the config file, a list of entries), validated at start-up. */
const slaListSchema = z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
  try {
    return parseFreshnessSlas(Array.isArray(v) ? v.join(',') : v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** The freshness settings (SLUICE_FRESHNESS_*), rows of the one settings table. */
export const FRESHNESS_SETTINGS = {
  freshnessSlas: {
    env: 'SLUICE_FRESHNESS_SLAS',
    description:
      'Freshness SLAs, replacing the defaults (see Freshness SLAs): comma-separated SUBJECT=WARN/BREACH, SUBJECT ' +
      'a topic or warehouse:SCHEMA.TABLE.COLUMN, e.g. oltp.orders=15m/30m (empty: the defaults)',
    default: '',
    schema: slaListSchema,
  },
  freshnessIntervalMs: {
    env: 'SLUICE_FRESHNESS_INTERVAL_MS',
    description: 'How often `sluice run` measures the freshness SLAs for its metrics (0: never)',
    default: '30000',
    emptyIsUnset: true,
    schema: z.coerce.number().int().min(0),
  },
} as const satisfies Record<string, Setting>;
