/* What the page was configured with: the server's settings (the body's data-settings attribute,
 * so no inline script is needed under the page's CSP) and the page's query parameters. */

const params = new URLSearchParams(location.search);
const prefix = params.get('metricPrefix') || '';

/** `{ feedPath, metricsPath, metricsPollMs }` from the server. */
export const settings = JSON.parse(document.body.dataset.settings || '{}');

/** Passed on to the feed when it requires one (`?token=`). */
export const token = params.get('token');

/** The metric each panel shows; `?metricPrefix=` points the page at other metric topics. */
export const METRICS = {
  revenue: prefix + 'revenue_per_minute',
  orders: prefix + 'orders_per_minute',
  funnel: prefix + 'funnel_5m',
  sessions: prefix + 'active_sessions',
  dlq: prefix + 'dlq_per_minute',
};

/** The runners' per-minute quality counts (an internal topic: never prefixed). */
METRICS.quality = 'quality';

/** Panel kind of a metric name. */
export const KIND_OF = Object.fromEntries(Object.entries(METRICS).map(([kind, metric]) => [metric, kind]));
