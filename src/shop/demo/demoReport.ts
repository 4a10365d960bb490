/**
 * What `sluice demo` prints for people at the end: what landed where in this run next to what the
 * topics, lake and tables hold in all (earlier runs included), what the run produced (and at what
 * rate, when it fell short of the one asked), why `metrics.late` can count more than the clicks,
 * and how to stop the stack. Pure formatting, so it is unit-tested without services.
 */

/** Records per topic, objects per lake zone, rows per warehouse table, at one moment. */
export interface Landed {
  topics: Record<string, number>;
  lake: Record<string, number>;
  warehouse: Record<string, number>;
}

/** What one demo run did, for the summary. */
export interface RunFacts {
  elapsedMs: number;
  /** The signal that stopped the run early, if any. */
  stoppedBy?: string;
  clicksPerSecondAsked: number;
  /** Clicks the broker acknowledged and how long the generator ran; undefined when it failed. */
  clicks?: { total: number; elapsedMs: number };
  /** Shop database changes made; undefined when the activity failed. */
  shopChanges?: number;
}

/** The topic the metrics topology sends late window inputs to. */
export const LATE_TOPIC = 'metrics.late';

const DLQ_TOPICS = ['oltp.customers.dlq', 'oltp.orders.dlq', 'oltp.order_items.dlq', 'web.clickstream.dlq'];

/** A whole number with thousands separators. */
export const n = (x: number): string => Math.round(x).toLocaleString('en');

/** `after - before` per key of `after` (a key missing before counts from 0). */
export function added(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

/** The progress line every 10 s: what flowed in this run so far. */
export function flowLine(before: Record<string, number>, now: Record<string, number>): string {
  const c = added(before, now);
  const at = (t: string) => c[t] ?? 0;
  const dlq = DLQ_TOPICS.reduce((s, t) => s + at(t), 0);
  const orderRows = at('oltp.orders') + at('oltp.order_items');
  return (
    `… this run: in ${n(at('web.clickstream'))} clicks, ${n(orderRows)} order rows │ ` +
    `silver ${n(at('silver.clickstream'))} clicks, ${n(at('silver.orders'))} orders │ dlq ${n(dlq)} │ ` +
    `metric updates ${n(at('metrics.funnel_5m') + at('metrics.revenue_per_minute'))}`
  );
}

/** The table of what landed where: this run next to all time, one line per topic, zone and table. */
export function formatLanded(before: Landed, after: Landed, bucket: string): string[] {
  const rows: [string, number, number, string][] = [];
  for (const [t, total] of Object.entries(after.topics))
    rows.push([`kafka ${t}`, total - (before.topics[t] ?? 0), total, '']);
  for (const [zone, total] of Object.entries(after.lake))
    rows.push([`s3://${bucket}/${zone}/`, total - (before.lake[zone] ?? 0), total, 'objects']);
  for (const [t, total] of Object.entries(after.warehouse))
    rows.push([`warehouse ${t}`, total - (before.warehouse[t] ?? 0), total, 'rows']);
  const width = Math.max(30, ...rows.map(([name]) => name.length));
  const lines = [
    '== what landed where: this run, and all time (everything the topics, lake and tables hold, earlier runs included)',
    `  ${''.padEnd(width)}  ${'this run'.padStart(10)}  ${'all time'.padStart(10)}`,
  ];
  for (const [name, run, total, unit] of rows)
    lines.push(`  ${name.padEnd(width)}  ${n(run).padStart(10)}  ${n(total).padStart(10)}${unit ? `  ${unit}` : ''}`);
  return lines;
}

/** What this run produced, the click rate measured when it fell short, and what the late count means. */
export function formatRunFacts(facts: RunFacts, before: Landed, after: Landed): string[] {
  const run = added(before.topics, after.topics);
  const lines = ['', '== this run'];
  const stopped = facts.stoppedBy ? ` (stopped early by ${facts.stoppedBy})` : '';
  lines.push(`  ran            ${Math.round(facts.elapsedMs / 1000)} s${stopped}`);
  if (facts.clicks) {
    const seconds = Math.max(0.001, facts.clicks.elapsedMs / 1000);
    const rate = facts.clicks.total / seconds;
    const short =
      rate < facts.clicksPerSecondAsked * 0.9
        ? ` (asked for ${n(facts.clicksPerSecondAsked)}/s: the generator fell behind on this machine)`
        : '';
    lines.push(`  clicks sent    ${n(facts.clicks.total)} in ${Math.round(seconds)} s = ${n(rate)}/s${short}`);
  } else lines.push('  clicks sent    unknown: the clickstream generator failed (see the log)');
  if (facts.shopChanges !== undefined) lines.push(`  shop changes   ${n(facts.shopChanges)}`);
  const dlq = DLQ_TOPICS.reduce((s, t) => s + (run[t] ?? 0), 0);
  lines.push(`  dead letters   ${n(dlq)} bad records caught by the rules (*.dlq)`);
  if (after.topics[LATE_TOPIC] !== undefined) {
    const [first, ...rest] = lateExplanation();
    lines.push(`  late           ${n(run[LATE_TOPIC] ?? 0)} window inputs in ${LATE_TOPIC}: ${first}`);
    for (const line of rest) lines.push(`                 ${line}`);
  }
  return lines;
}

/** Why `metrics.late` counts what it counts (windowOperator: one late record per window input). */
export function lateExplanation(): string[] {
  return [
    'inputs that arrived after their window had closed.',
    'One record feeds several windows (a click: funnel and sessions; an order item: two revenue',
    'groups) and the seeded order history is old, so late can exceed the clicks.',
  ];
}

/** The closing lines: where the logs are and how to stop the stack the demo leaves running. */
export function closingLines(logFile: string | undefined): string[] {
  return [
    '',
    ...(logFile ? [`logs           ${logFile} (JSON lines)`] : []),
    'the local stack is still up: `npx sluice dev down` stops it (`npx sluice dev status` shows it)',
  ];
}
