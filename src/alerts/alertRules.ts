import { z } from 'zod';
import type { Setting } from '../config/settingSchemas.ts';
import type { AlertRuleName, Severity } from './incident.ts';

/**
 * The alert rules, declared beside the evaluator that runs them (`alertEvaluator.ts`): each is a
 * condition over one signal, its severity, and its threshold's setting. Every measurement is the
 * one the rest of Sluice already makes (freshness SLAs, warehouse tests, quality scores, Kafka
 * offsets, `/readyz`); the rules only decide when it is an incident.
 */
export interface AlertRule {
  name: AlertRuleName;
  severity: Severity;
  /** What fires it, for people (README, `sluice alerts --help`). */
  condition: string;
}

export const ALERT_RULES: readonly AlertRule[] = [
  {
    name: 'freshness_breach',
    severity: 'critical',
    condition: 'a freshness SLA subject is in breach (older than its breach age, empty or not measurable)',
  },
  {
    name: 'quality_below_threshold',
    severity: 'warning',
    condition:
      'the quality score (pass rate) of an expectation is in its alert state (under its alert threshold, SLUICE_QUALITY_THRESHOLDS)',
  },
  {
    name: 'dlq_rate_high',
    severity: 'warning',
    condition: 'a dead-letter topic receives more than SLUICE_ALERT_DLQ_RATE_PER_MINUTE records per minute',
  },
  {
    name: 'consumer_lag_growing',
    severity: 'critical',
    condition: "a runner group's lag has grown, never shrinking, for SLUICE_ALERT_LAG_GROWING_FOR_MS",
  },
  {
    name: 'runner_not_ready',
    severity: 'critical',
    condition: 'a runner /readyz (SLUICE_ALERT_READYZ_URLS) answers other than 200, or not at all',
  },
  {
    name: 'warehouse_test_failing',
    severity: 'critical',
    condition: 'a warehouse test (`sluice check`) fails',
  },
];

export const ALERT_RULE_NAMES = ALERT_RULES.map((r) => r.name);

/** The severity of a rule. */
export function severityOf(rule: AlertRuleName): Severity {
  return ALERT_RULES.find((r) => r.name === rule)?.severity ?? 'critical';
}

/** A webhook: where incidents are POSTed, and in which format. */
export interface WebhookTarget {
  url: string;
  format: 'json' | 'slack';
}

/**
 * Parses SLUICE_ALERT_WEBHOOKS: comma-separated URLs, each POSTed the incident as JSON, or
 * `slack:URL` for Slack-compatible `{"text": ...}`. Throws a RangeError that never repeats a URL
 * (they may carry tokens), only its position.
 *
 * @example parseWebhooks('https://ops.example/hook,slack:https://hooks.slack.com/services/T/B/X')
 */
export function parseWebhooks(text: string): WebhookTarget[] {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const problems: string[] = [];
  const targets = entries.map((entry, i): WebhookTarget => {
    const slack = entry.startsWith('slack:');
    const url = slack ? entry.slice('slack:'.length) : entry;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
      problems.push(`entry ${i + 1} is not an http(s) URL (or slack:URL)`);
    return { url, format: slack ? 'slack' : 'json' };
  });
  if (problems.length) throw new RangeError(problems.join('; '));
  return targets;
}

/** Parses SLUICE_ALERT_RULES: the enabled rules (empty: all). */
export function parseEnabledRules(text: string): AlertRuleName[] {
  const names = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (!names.length) return [...ALERT_RULE_NAMES];
  const unknown = names.filter((n) => !ALERT_RULE_NAMES.includes(n as AlertRuleName));
  if (unknown.length) throw new RangeError(`unknown rule ${unknown.join(', ')}; known: ${ALERT_RULE_NAMES.join(', ')}`);
  return [...new Set(names)] as AlertRuleName[];
}

function parsed<T>(parse: (text: string) => T) {
  return z.string().transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

const ms = z.coerce.number().int().min(0);

/** The alert and incident settings (SLUICE_ALERT*_ and SLUICE_INCIDENTS_*), rows of the one settings table. */
export const ALERT_SETTINGS = {
  alertRules: {
    env: 'SLUICE_ALERT_RULES',
    description:
      'Alert rules `sluice alerts` evaluates, comma-separated (empty: all): freshness_breach, ' +
      'quality_below_threshold, dlq_rate_high, consumer_lag_growing, runner_not_ready, warehouse_test_failing',
    default: '',
    schema: parsed(parseEnabledRules),
  },
  alertsIntervalMs: {
    env: 'SLUICE_ALERTS_INTERVAL_MS',
    description: 'How often `sluice alerts` evaluates the alert rules',
    default: '30000',
    emptyIsUnset: true,
    schema: z.coerce.number().int().min(100),
  },
  alertQualityWindow: {
    env: 'SLUICE_ALERT_QUALITY_WINDOW',
    description:
      'quality_below_threshold: the window (5m, 1h, 1d) whose pass rate is judged by the alert threshold of ' +
      'SLUICE_QUALITY_THRESHOLDS',
    default: '5m',
    emptyIsUnset: true,
    schema: z.enum(['5m', '1h', '1d']),
  },
  alertDlqRatePerMinute: {
    env: 'SLUICE_ALERT_DLQ_RATE_PER_MINUTE',
    description: 'dlq_rate_high: most records per minute a dead-letter topic may receive, over the DLQ window',
    default: '10',
    emptyIsUnset: true,
    schema: z.coerce.number().min(0),
  },
  alertDlqWindowMs: {
    env: 'SLUICE_ALERT_DLQ_WINDOW_MS',
    description: 'dlq_rate_high: the window the DLQ rate is measured over',
    default: '300000',
    emptyIsUnset: true,
    schema: ms,
  },
  alertLagGrowingForMs: {
    env: 'SLUICE_ALERT_LAG_GROWING_FOR_MS',
    description: 'consumer_lag_growing: how long the lag of a runner group must grow before it fires',
    default: '300000',
    emptyIsUnset: true,
    schema: ms,
  },
  alertReadyzUrls: {
    env: 'SLUICE_ALERT_READYZ_URLS',
    description:
      'runner_not_ready: comma-separated /readyz URLs of the runners (empty: the local one, ' +
      'SLUICE_HTTP_HOST:SLUICE_HTTP_PORT)',
    default: '',
    schema: z.string(),
  },
  alertWebhooks: {
    env: 'SLUICE_ALERT_WEBHOOKS',
    description:
      'Comma-separated webhook URLs incidents are POSTed to as JSON, or slack:URL for Slack-compatible ' +
      'text (or _FILE; never logged)',
    default: '',
    secret: true,
    schema: parsed(parseWebhooks),
  },
  alertWebhookTimeoutMs: {
    env: 'SLUICE_ALERT_WEBHOOK_TIMEOUT_MS',
    description: 'Longest one webhook POST may take before it counts as failed',
    default: '5000',
    emptyIsUnset: true,
    schema: z.coerce.number().int().min(1),
  },
  alertWebhookAttempts: {
    env: 'SLUICE_ALERT_WEBHOOK_ATTEMPTS',
    description: 'Attempts per webhook POST (backoff between them) before it is given up and logged',
    default: '5',
    emptyIsUnset: true,
    schema: z.coerce.number().int().min(1),
  },
  alertWebhookQueue: {
    env: 'SLUICE_ALERT_WEBHOOK_QUEUE',
    description: 'Webhook POSTs waiting per webhook; beyond it the oldest is dropped and logged',
    default: '100',
    emptyIsUnset: true,
    schema: z.coerce.number().int().min(1),
  },
  alertDashboardUrl: {
    env: 'SLUICE_ALERT_DASHBOARD_URL',
    description: 'Dashboard URL incidents link to (empty: http://SLUICE_HTTP_HOST:SLUICE_HTTP_PORT/)',
    default: '',
    schema: z.union([z.literal(''), z.url()]),
  },
  incidentsTopic: {
    env: 'SLUICE_INCIDENTS_TOPIC',
    description: 'Compacted topic of the incidents, keyed by rule|subject (JSON values)',
    default: 'sluice.incidents',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/),
  },
  incidentsKeepResolvedMs: {
    env: 'SLUICE_INCIDENTS_KEEP_RESOLVED_MS',
    description: 'How long a resolved incident stays listed before `sluice alerts` deletes it (a tombstone)',
    default: '604800000',
    emptyIsUnset: true,
    schema: ms,
  },
} as const satisfies Record<string, Setting>;
