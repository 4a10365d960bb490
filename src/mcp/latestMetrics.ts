import { readTopicRange } from '../admin/readTopicRange.ts';
import { SluiceError } from '../core/errors.ts';
import { FEED_INTERNAL_TOPICS, metricOfTopic, toFeedUpdate, topicOfMetric } from '../feed/feedUpdate.ts';
import { decodeQualityMinute } from '../quality/qualityLedger.ts';
import { decodeMasked } from './decodeMasked.ts';
import type { McpDeps } from './mcpDeps.ts';

/**
 * The latest windows of one metric, as the live feed's snapshot holds them: the newest result
 * per (window, group key) read back from the end of its `metrics.<name>` topic, grouped by window,
 * newest window first. A bounded read (the last records of each partition), never a subscription.
 */

export interface MetricWindow {
  start: string;
  end: string;
  /** Every result of the window is final (its window closed). */
  final: boolean;
  results: { key: string; value: Record<string, unknown>; final: boolean; emittedAt: string }[];
}

export interface LatestMetrics {
  metric: string;
  topic: string;
  windows: MetricWindow[];
  /** Records read from the end of the topic to find them. */
  scanned: number;
}

export interface LatestMetricsRequest {
  metric: string;
  /** Only results whose key or a group field contains this text (e.g. a category). */
  key?: string;
  windows: number;
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

/** The metrics there are topics for now (names without `metrics.`). */
export async function knownMetrics(deps: Pick<McpDeps, 'kafka'>): Promise<string[]> {
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics())
      .map((t) => metricOfTopic(t))
      .filter((m): m is string => m !== undefined)
      .sort();
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Reads the latest `windows` windows of a metric.
 *
 * @example await latestMetrics(deps, { metric: 'revenue_per_minute', key: 'books', windows: 3 });
 */
export async function latestMetrics(deps: McpDeps, req: LatestMetricsRequest): Promise<LatestMetrics> {
  const known = await knownMetrics(deps);
  if (!known.includes(req.metric))
    throw new SluiceError(
      'MCP_NOT_FOUND',
      `no metric ${JSON.stringify(req.metric)}; known metrics: ${known.join(', ') || '(none yet)'}`,
    );
  const topic = topicOfMetric(req.metric);
  // Results of a window are written while it is open and when it closes: a few hundred records
  // per window and partition reach back far enough for the groups of a shop's metrics.
  const perPartition = Math.min(20_000, 200 * req.windows);
  const latest = new Map<string, { key: string; start: number; end: number; value: Record<string, unknown> }>();
  const meta = new Map<string, { final: boolean; emittedAt: number }>();
  let scanned = 0;
  await readTopicRange(deps.kafka, topic, {
    start: { last: perPartition },
    groupPrefix: 'sluice-mcp',
    onRecord: async (r) => {
      scanned++;
      const isQuality = topic === FEED_INTERNAL_TOPICS.quality;
      const decoded = isQuality ? { value: decodeQualityMinute(r.value), piiMasked: [] } : await decodeMasked(deps, r);
      // A masked group field changes the key the record was written under: build it from the masked value.
      const key = decoded.piiMasked.length ? null : (r.key?.toString('utf8') ?? null);
      const u = toFeedUpdate(req.metric, key, decoded.value);
      if (!u) return;
      // Keys go to one partition, read in offset order: the last one seen is the latest.
      latest.set(u.key, { key: u.key, start: u.window.start, end: u.window.end, value: u.value });
      meta.set(u.key, { final: u.final, emittedAt: u.emittedAt });
    },
  });
  return { metric: req.metric, topic, windows: newestWindows([...latest.values()], meta, req), scanned };
}

function newestWindows(
  results: { key: string; start: number; end: number; value: Record<string, unknown> }[],
  meta: Map<string, { final: boolean; emittedAt: number }>,
  req: LatestMetricsRequest,
): MetricWindow[] {
  const needle = req.key?.toLowerCase();
  const matches = (r: (typeof results)[number]) =>
    !needle ||
    r.key.toLowerCase().includes(needle) ||
    Object.values(r.value).some((v) => typeof v === 'string' && v.toLowerCase().includes(needle));
  const byWindow = new Map<string, MetricWindow & { endMs: number }>();
  for (const r of results.filter(matches)) {
    const id = `${r.start}|${r.end}`;
    let w = byWindow.get(id);
    if (!w) {
      w = { start: iso(r.start), end: iso(r.end), endMs: r.end, final: true, results: [] };
      byWindow.set(id, w);
    }
    const m = meta.get(r.key) ?? { final: false, emittedAt: 0 };
    w.final &&= m.final;
    w.results.push({ key: r.key, value: r.value, final: m.final, emittedAt: iso(m.emittedAt) });
  }
  return [...byWindow.values()]
    .sort((a, b) => b.endMs - a.endMs)
    .slice(0, req.windows)
    .map(({ endMs: _, ...w }) => ({ ...w, results: w.results.sort((a, b) => a.key.localeCompare(b.key)) }));
}
