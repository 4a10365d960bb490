/**
 * One metric result as the live feed sends it (SPEC §6):
 * `{"type":"update","metric","window":{"start","end"},"key","value","final","emittedAt","cursor"}`.
 * The part shared by every client is serialised once per record (`body`, without its closing
 * brace); each client appends its own cursor.
 */

/** What every metric topic name starts with. */
export const METRIC_TOPIC_PREFIX = 'metrics.';
/** Metric names are topic names without the `metrics.` prefix; the same characters as Kafka allows. */
export const METRIC_NAME_PATTERN = /^[A-Za-z0-9._-]{1,240}$/;

/**
 * Internal topics the feed serves as a metric: the runners' per-minute quality counts
 * (src/quality/qualityLedger.ts: JSON window results on the default SLUICE_QUALITY_TOPIC).
 */
export const FEED_INTERNAL_TOPICS: Readonly<Record<string, string>> = { quality: 'sluice.quality' };

/** The Kafka topic of a metric: `metrics.<metric>`, or an internal topic served as a metric. */
export function topicOfMetric(metric: string): string {
  return FEED_INTERNAL_TOPICS[metric] ?? `${METRIC_TOPIC_PREFIX}${metric}`;
}

/** The metric a `metrics.<metric>` (or internal) topic holds, or undefined for any other topic. */
export function metricOfTopic(topic: string): string | undefined {
  for (const [metric, internal] of Object.entries(FEED_INTERNAL_TOPICS)) if (topic === internal) return metric;
  return topic.startsWith(METRIC_TOPIC_PREFIX) && topic.length > METRIC_TOPIC_PREFIX.length
    ? topic.slice(METRIC_TOPIC_PREFIX.length)
    : undefined;
}

/** One metric result, as decoded from its record. */
export interface FeedUpdate {
  metric: string;
  window: { start: number; end: number };
  key: string;
  /** The result's group-key fields and values (everything but the window, `final` and `emitted_at`). */
  value: Record<string, unknown>;
  final: boolean;
  emittedAt: number;
}

/** A decoded record kept by the feed: where it sits in Kafka and its serialised update. */
export interface LoggedUpdate {
  tp: string;
  offset: number;
  metric: string;
  key: string;
  windowEnd: number;
  /** `{"type":"update",...` without the closing brace, so a cursor can be appended. */
  body: string;
}

const ENVELOPE = new Set(['window_start', 'window_end', 'final', 'emitted_at']);

function jsonSafe(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return v;
}

/**
 * Turns a decoded metric result into an update, or undefined when the value is not a window
 * result (no numeric window_start/window_end). Without a Kafka key, the key is built the way the
 * metric topics key their records: `<window_start>|<group fields joined by |>`.
 */
export function toFeedUpdate(metric: string, key: string | null, record: unknown): FeedUpdate | undefined {
  if (record === null || typeof record !== 'object') return undefined;
  const r = record as Record<string, unknown>;
  const start = Number(r.window_start);
  const end = Number(r.window_end);
  if (!Number.isFinite(start) || !Number.isFinite(end)) return undefined;
  const value: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!ENVELOPE.has(k)) value[k] = v;
  const groups = Object.entries(value)
    .filter(([, v]) => typeof v === 'string')
    .map(([, v]) => v as string);
  return {
    metric,
    window: { start, end },
    key: key ?? [String(start), ...groups].join('|'),
    value,
    final: r.final === true,
    emittedAt: Number(r.emitted_at ?? 0),
  };
}

/** The serialised update shared by every client: its JSON without the closing brace. */
export function updateBody(u: FeedUpdate): string {
  const json = JSON.stringify(
    {
      type: 'update',
      metric: u.metric,
      window: u.window,
      key: u.key,
      value: u.value,
      final: u.final,
      emittedAt: u.emittedAt,
    },
    jsonSafe,
  );
  return json.slice(0, -1);
}

/** The message a client receives: the shared body plus its own cursor (and flags). */
export function updateMessage(body: string, cursor: string, flags?: { snapshot?: boolean }): string {
  return `${body}${flags?.snapshot ? ',"snapshot":true' : ''},"cursor":${JSON.stringify(cursor)}}`;
}
