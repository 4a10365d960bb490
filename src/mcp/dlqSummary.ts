import { type RawRecord, readTopicRange } from '../admin/readTopicRange.ts';
import { parseDlqEntry } from '../admin/replay/dlqEntry.ts';
import { SluiceError } from '../core/errors.ts';
import { decodeMasked } from './decodeMasked.ts';
import type { McpDeps } from './mcpDeps.ts';

/**
 * What is in the dead-letter topics: per DLQ, how many records it holds, why they failed (counts
 * by `sluice.error.reason`, by rule, by topology, over its newest records) and the newest few as
 * examples with the coordinates they failed at — the headers `sluice replay-dlq` filters on, the
 * value masked as `sluice inspect` masks it. A bounded read from the end of each topic.
 */

export interface DlqExample {
  partition: number;
  offset: string;
  failedAt: string;
  key: string | null;
  reason: string;
  rule: string | null;
  message: string;
  topology: string | null;
  /** Where the record failed: its source topic, partition and offset. */
  source: { topic: string | null; partition: number | null; offset: string | null };
  replayCount: number;
  value: unknown;
  piiMasked: string[];
}

export interface DlqTopicSummary {
  topic: string;
  /** Records the topic holds now (all partitions). */
  total: number;
  /** Newest records read to count the reasons (at most SLUICE_MCP_DLQ_SCAN_RECORDS per partition). */
  scanned: number;
  byReason: Record<string, number>;
  byRule: Record<string, number>;
  byTopology: Record<string, number>;
  lastFailedAt: string | null;
  examples: DlqExample[];
}

/** Most DLQs one call reads (the fullest first); the rest are named as omitted. */
const MAX_TOPICS = 25;

const bump = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};

/** The DLQ topic meant by `name`: a DLQ itself, or the source topic whose DLQ it is. */
function dlqNameOf(name: string): string {
  return name.endsWith('.dlq') ? name : `${name}.dlq`;
}

/**
 * Summarises one DLQ (`topic`: the DLQ or its source topic) or every `*.dlq` topic.
 *
 * @example await dlqSummary(deps, { topic: 'oltp.orders', examples: 3 });
 */
export async function dlqSummary(
  deps: McpDeps,
  req: { topic?: string; examples: number },
): Promise<{ topics: DlqTopicSummary[]; omitted: string[] }> {
  const totals = await dlqTotals(deps);
  let chosen: string[];
  if (req.topic) {
    const name = dlqNameOf(req.topic);
    if (!totals.has(name))
      throw new SluiceError(
        'MCP_NOT_FOUND',
        `no dead-letter topic ${name}; the DLQs are: ${[...totals.keys()].sort().join(', ') || '(none)'}`,
      );
    chosen = [name];
  } else chosen = [...totals.keys()].sort((a, b) => totals.get(b)! - totals.get(a)! || a.localeCompare(b));
  const omitted = chosen.slice(MAX_TOPICS);
  chosen = chosen.slice(0, MAX_TOPICS);

  const records = new Map<string, RawRecord[]>(chosen.map((t) => [t, []]));
  const toRead = chosen.filter((t) => totals.get(t)! > 0);
  if (toRead.length)
    await readTopicRange(deps.kafka, toRead, {
      start: { last: deps.cfg.mcpDlqScanRecords },
      groupPrefix: 'sluice-mcp',
      onRecord: (r) => void records.get(r.topic)!.push(r),
    });
  const topics: DlqTopicSummary[] = [];
  for (const t of chosen) topics.push(await summarise(deps, t, totals.get(t)!, records.get(t)!, req.examples));
  return { topics, omitted };
}

/** Every `*.dlq` topic with the records it holds now. */
async function dlqTotals(deps: Pick<McpDeps, 'kafka'>): Promise<Map<string, number>> {
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    const out = new Map<string, number>();
    for (const t of (await admin.listTopics()).filter((n) => n.endsWith('.dlq'))) {
      const offsets = await admin.fetchTopicOffsets(t);
      out.set(
        t,
        offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0),
      );
    }
    return out;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function summarise(
  deps: McpDeps,
  topic: string,
  total: number,
  records: RawRecord[],
  examples: number,
): Promise<DlqTopicSummary> {
  const entries = records.map(parseDlqEntry).sort((a, b) => a.failedAt - b.failedAt);
  const s: DlqTopicSummary = {
    topic,
    total,
    scanned: entries.length,
    byReason: {},
    byRule: {},
    byTopology: {},
    lastFailedAt: entries.length ? new Date(entries[entries.length - 1].failedAt).toISOString() : null,
    examples: [],
  };
  for (const e of entries) {
    bump(s.byReason, e.headers['sluice.error.reason'] || 'unknown');
    if (e.headers['sluice.error.rule']) bump(s.byRule, e.headers['sluice.error.rule']);
    if (e.headers['sluice.error.topology']) bump(s.byTopology, e.headers['sluice.error.topology']);
  }
  for (const e of entries.slice(-examples).reverse()) {
    const { value, piiMasked } = await decodeMasked(deps, e.record);
    s.examples.push({
      partition: e.record.partition,
      offset: e.record.offset,
      failedAt: new Date(e.failedAt).toISOString(),
      key: e.record.key === null ? null : e.record.key.toString('utf8'),
      reason: e.headers['sluice.error.reason'] || e.headers['__connect.errors.exception.class.name'] || 'unknown',
      rule: e.headers['sluice.error.rule'] || null,
      message: e.headers['sluice.error.message'] || e.headers['__connect.errors.exception.message'] || '',
      topology: e.headers['sluice.error.topology'] || null,
      source: { topic: e.origTopic ?? null, partition: e.origPartition ?? null, offset: e.origOffset ?? null },
      replayCount: e.replayCount,
      value,
      piiMasked,
    });
  }
  return s;
}
