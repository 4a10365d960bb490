import { textTable } from '../core/textTable.ts';
import { duration } from '../quality/runWarehouseTests.ts';
import type { Incident } from './incident.ts';

/** The incidents `sluice incidents` lists: every open one, and those resolved within `recentMs` of `now`. */
export function listedIncidents(incidents: readonly Incident[], now: number, recentMs: number): Incident[] {
  return incidents.filter(
    (i) => i.status === 'open' || (i.resolvedAt !== null && now - Date.parse(i.resolvedAt) <= recentMs),
  );
}

/** The readable table: one line per incident, open first, then the counts. */
export function formatIncidentsTable(incidents: readonly Incident[], now: number): string {
  const header = ['STATUS', 'SEVERITY', 'RULE', 'SUBJECT', 'STARTED', 'FOR', 'SUMMARY'];
  const rows = incidents.map((i) => [
    i.status,
    i.severity,
    i.rule,
    i.subject,
    i.startedAt,
    duration((i.resolvedAt ? Date.parse(i.resolvedAt) : now) - Date.parse(i.startedAt)),
    i.summary,
  ]);
  const open = incidents.filter((i) => i.status === 'open').length;
  const total = `${open} open, ${incidents.length - open} recently resolved`;
  return [...(incidents.length ? textTable(header, rows) : ['no incidents']), '', total].join('\n');
}
