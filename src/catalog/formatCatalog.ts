import { textTable } from '../core/textTable.ts';
import { duration } from '../quality/runWarehouseTests.ts';
import type { CatalogEntry, CatalogLink } from './catalogEntry.ts';

/**
 * The catalog for a terminal: `formatCatalogTable` gives one line per entry (owner, schema
 * versions or table state, freshness, PII, quality counts); `formatCatalogEntry` one entry's
 * whole record (lineage, checks, every field with its doc and PII mark).
 */

/** One line per entry, then the counts and how to see one entry whole. */
export function formatCatalogTable(entries: readonly CatalogEntry[]): string {
  const header = ['KIND', 'NAME', 'OWNER', 'SCHEMA / TABLE', 'FRESHNESS', 'PII', 'QUALITY'];
  const rows = entries.map((e) => [
    e.kind,
    e.name,
    e.owner?.team ?? '-',
    e.kind === 'topic' ? versionsLabel(e) : tableLabel(e),
    freshnessLabel(e),
    String(e.fields.filter((f) => f.pii).length || '-'),
    qualityLabel(e),
  ]);
  const topics = entries.filter((e) => e.kind === 'topic').length;
  const tables = entries.length - topics;
  const total = `${topics} topics, ${tables} tables; \`sluice catalog NAME\` for fields, lineage and checks`;
  return [...textTable(header, rows), '', total].join('\n');
}

/** One entry whole: owner, schema, lineage, freshness, quality, then its fields. */
export function formatCatalogEntry(e: CatalogEntry): string {
  const lines = [`${e.kind} ${e.name}${e.description ? ` — ${e.description}` : ''}`];
  const owner = e.owner
    ? `${e.owner.team}${e.owner.contact ? ` <${e.owner.contact}>` : ''} (topology ${e.ownerTopology})`
    : 'none declared (no topology writes it)';
  lines.push(`  owner: ${owner}`);
  if (e.kind === 'topic') {
    const subject = e.schema.subject ? `, subject ${e.schema.subject}: ${versionsLabel(e)}` : '';
    lines.push(`  schema: ${e.schema.name ?? 'none'}${subject}`);
  } else lines.push(`  schema: ${e.schema.name}; warehouse: ${tableLabel(e)}`);
  lines.push(`  upstream: ${linksLabel(e.upstream)}`, `  downstream: ${linksLabel(e.downstream)}`);
  const f = e.freshness;
  lines.push(
    f
      ? `  freshness: ${f.source}, warn after ${duration(f.warnAfterSeconds * 1000)}, breach after ` +
          `${duration(f.breachAfterSeconds * 1000)}: ${freshnessLabel(e)}${f.detail ? ` (${f.detail})` : ''}`
      : '  freshness: no SLA',
  );
  lines.push(`  dead letters: ${e.quality.dlq.join(', ') || 'none'}`);
  for (const [title, list] of [
    ['rules', e.quality.rules],
    ['warehouse tests', e.quality.tests],
  ] as const)
    if (list.length) lines.push(`  ${title}:`, ...list.map((x) => `    ${x}`));
  lines.push(`  ${e.kind === 'topic' ? 'fields' : 'columns'}:`);
  const fields = textTable(
    ['NAME', 'TYPE', 'PII', 'DOC'],
    e.fields.map((x) => [x.name, x.type, x.pii ?? '-', x.doc ?? '']),
  );
  lines.push(...fields.map((l) => `    ${l}`));
  return lines.join('\n');
}

function versionsLabel(e: CatalogEntry): string {
  const s = e.schema;
  if (s.status === 'ok') return s.versions?.length ? `versions ${s.versions.join(', ')}` : 'no versions';
  if (s.status === 'offline') return 'offline';
  if (s.status.startsWith('unavailable')) return 'registry unavailable';
  return s.status;
}

function tableLabel(e: CatalogEntry): string {
  const w = e.warehouse;
  if (!w || w.status === 'offline') return 'offline';
  if (w.status !== 'ok') return 'warehouse unavailable';
  if (!w.exists) return 'missing';
  return w.rowsEstimate === null || w.rowsEstimate === undefined ? 'exists' : `exists, ~${w.rowsEstimate} rows`;
}

function freshnessLabel(e: CatalogEntry): string {
  const f = e.freshness;
  if (!f) return '-';
  if (f.ageSeconds === null || f.ageSeconds === undefined) return f.state;
  return `${f.state} (${duration(f.ageSeconds * 1000)})`;
}

function qualityLabel(e: CatalogEntry): string {
  const q = e.quality;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const parts = [count(q.dlq.length, 'dlq')];
  if (q.rules.length) parts.push(count(q.rules.length, 'rule'));
  if (q.tests.length) parts.push(count(q.tests.length, 'test'));
  return parts.join(', ');
}

function linksLabel(links: readonly CatalogLink[]): string {
  if (!links.length) return 'none';
  const kinds = ['topology', 'topic', 'table', 'sink'] as const;
  return kinds
    .map((k) => [k, links.filter((l) => l.kind === k).map((l) => l.name)] as const)
    .filter(([, names]) => names.length)
    .map(([k, names]) => `${k === 'topology' ? 'topologies' : `${k}s`} ${names.join(', ')}`)
    .join('; ');
}
