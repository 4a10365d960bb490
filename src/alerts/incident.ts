/**
 * An incident: one alert rule firing for one subject (a topic, a table, a warehouse test, a
 * consumer group, a runner), from the moment it opens until its condition clears. It is the value
 * of a record on the compacted incidents topic (`sluice.incidents`), keyed by `incidentKey`, so
 * the topic holds the latest state of every incident and a restart reads it back.
 */

/** The alert rules (`alertRules.ts` declares each with its default threshold). */
export type AlertRuleName =
  | 'freshness_breach'
  | 'quality_below_threshold'
  | 'dlq_rate_high'
  | 'consumer_lag_growing'
  | 'runner_not_ready'
  | 'warehouse_test_failing';

export type IncidentStatus = 'open' | 'resolved';
export type Severity = 'critical' | 'warning';

/** A JSON-safe value measured by a signal: the evidence of an incident. */
export type Evidence = Record<string, string | number | boolean | null | string[] | number[]>;

export interface Incident {
  /** `<rule>|<subject>`: the Kafka key, and what deduplicates. */
  key: string;
  /** One opening of the incident: a rule that clears and fires again opens a new id under the same key. */
  id: string;
  rule: AlertRuleName;
  subject: string;
  status: IncidentStatus;
  severity: Severity;
  /** One line for people: what is wrong, with the numbers. */
  summary: string;
  /** ISO-8601 UTC. */
  startedAt: string;
  updatedAt: string;
  resolvedAt: string | null;
  /** The measured values behind the last open or update (kept when resolved: what it was at worst). */
  evidence: Evidence;
  /** The dashboard, at its incidents panel (no token: the link travels to webhooks and chats). */
  dashboardUrl: string;
  /** Records written for this opening: 1 when opened, +1 per update and for the resolution. */
  revision: number;
}

/** The Kafka key of an incident of `rule` about `subject`. */
export function incidentKey(rule: string, subject: string): string {
  return `${rule}|${subject}`;
}

const STATUSES = new Set(['open', 'resolved']);

/**
 * An incident from a record value, or undefined when it is not one (a foreign writer, a bad
 * record): the readers skip it rather than stop.
 *
 * @example parseIncident(record.value) // Incident | undefined
 */
export function parseIncident(value: Buffer | string | null): Incident | undefined {
  if (value === null) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch {
    return undefined;
  }
  const i = v as Partial<Incident> | null;
  if (
    !i ||
    typeof i.key !== 'string' ||
    typeof i.id !== 'string' ||
    typeof i.rule !== 'string' ||
    typeof i.subject !== 'string' ||
    !STATUSES.has(i.status as string) ||
    typeof i.startedAt !== 'string' ||
    typeof i.updatedAt !== 'string' ||
    typeof i.evidence !== 'object'
  )
    return undefined;
  return i as Incident;
}
