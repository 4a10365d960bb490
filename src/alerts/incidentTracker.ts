import { randomBytes } from 'node:crypto';
import { type AlertRuleName, type Evidence, type Incident, incidentKey, type Severity } from './incident.ts';
import type { Observation } from './observation.ts';

/**
 * The incident state machine, pure (no I/O, the time is given): observations in, the incident
 * records to write out. Per key (rule + subject) at most one incident is open:
 *
 *   (none) --firing--> open --firing, significant evidence changed--> open (updated)
 *                       open --ok, or subject no longer reported--> resolved --firing--> open (a new id)
 *
 * A resolution records what the ok observation measured (summary, evidence): the values that cleared it.
 *
 * `unknown` changes nothing. Seeded with the latest record of every key from the incidents topic,
 * a restarted evaluator neither reopens what is open nor forgets it.
 */

export type IncidentChange = { kind: 'opened' | 'updated' | 'resolved'; incident: Incident };

export interface IncidentTrackerOptions {
  /** The latest record per key, as read back from the incidents topic. */
  restored?: Iterable<Incident>;
  /** The dashboard URL incidents link to (its incidents panel). */
  dashboardUrl: string;
  /** Severity per rule when an observation names none. */
  severityOf?: (rule: AlertRuleName) => Severity;
  newId?: (at: Date) => string;
}

export interface IncidentTracker {
  /**
   * One evaluation: the observations of the sources that ran, and the rules those sources decide
   * (`decided`). Returns the changes in a stable order; the tracker's state has moved on already.
   */
  apply(observations: readonly Observation[], decided: ReadonlySet<AlertRuleName>, at: Date): IncidentChange[];
  /** Keys of incidents resolved before `before`: to forget (a tombstone on the topic). */
  forgetResolvedBefore(before: Date): string[];
  /** Every incident known, open first, newest first. */
  list(): Incident[];
  get(key: string): Incident | undefined;
}

/** The significant part of an evidence: what must change for an update to be news. */
export function fingerprint(evidence: Evidence, significant?: readonly string[]): string {
  const keys = significant ?? Object.keys(evidence).sort();
  return JSON.stringify(keys.map((k) => [k, evidence[k] ?? null]));
}

const defaultId = (at: Date) => `${at.getTime().toString(36)}-${randomBytes(4).toString('hex')}`;

/**
 * A tracker holding the latest incident per key.
 *
 * @example
 *   const tracker = createIncidentTracker({ restored: await readIncidents(kafka, topic), dashboardUrl });
 *   for (const change of tracker.apply(observations, new Set(['freshness_breach']), new Date())) write(change);
 */
export function createIncidentTracker(opts: IncidentTrackerOptions): IncidentTracker {
  const byKey = new Map<string, Incident>();
  // What each open incident's last record said, by the observation's significant fields.
  const signatures = new Map<string, { significant?: readonly string[]; print: string }>();
  for (const i of opts.restored ?? []) byKey.set(i.key, i);
  const newId = opts.newId ?? defaultId;
  const severityOf = opts.severityOf ?? (() => 'critical' as const);

  const open = (o: Observation, at: Date): Incident => ({
    key: incidentKey(o.rule, o.subject),
    id: newId(at),
    rule: o.rule,
    subject: o.subject,
    status: 'open',
    severity: o.severity ?? severityOf(o.rule),
    summary: o.summary,
    startedAt: at.toISOString(),
    updatedAt: at.toISOString(),
    resolvedAt: null,
    evidence: o.evidence,
    dashboardUrl: linkTo(opts.dashboardUrl, incidentKey(o.rule, o.subject)),
    revision: 1,
  });

  const changed = (current: Incident, o: Observation): boolean => {
    const severity = o.severity ?? severityOf(o.rule);
    if (severity !== current.severity) return true;
    const before = signatures.get(current.key);
    // Restored from the topic: the record's evidence, read with this observation's significant fields.
    const print = before?.print ?? fingerprint(current.evidence, o.significant);
    return print !== fingerprint(o.evidence, o.significant);
  };

  return {
    apply(observations, decided, at) {
      const changes: IncidentChange[] = [];
      const seen = new Set<string>();
      const stamp = at.toISOString();
      for (const o of observations) {
        const key = incidentKey(o.rule, o.subject);
        if (seen.has(key)) continue; // one observation per key and evaluation: the first
        seen.add(key);
        const current = byKey.get(key);
        const isOpen = current?.status === 'open';
        if (o.state === 'firing' && !isOpen) {
          const incident = open(o, at);
          byKey.set(key, incident);
          changes.push({ kind: 'opened', incident });
        } else if (o.state === 'firing' && current && changed(current, o)) {
          const incident: Incident = {
            ...current,
            severity: o.severity ?? severityOf(o.rule),
            summary: o.summary,
            evidence: o.evidence,
            updatedAt: stamp,
            revision: current.revision + 1,
          };
          byKey.set(key, incident);
          changes.push({ kind: 'updated', incident });
        } else if (o.state === 'ok' && current && isOpen) {
          // What it measures now, the values that cleared it.
          const cleared = { ...current, summary: o.summary, evidence: o.evidence };
          changes.push({ kind: 'resolved', incident: resolve(byKey, cleared, stamp) });
        } else continue;
        signatures.set(key, { significant: o.significant, print: fingerprint(o.evidence, o.significant) });
      }
      // A subject its source no longer reports (a dropped SLA, a deleted topic) has nothing wrong left.
      for (const current of [...byKey.values()])
        if (current.status === 'open' && decided.has(current.rule) && !seen.has(current.key))
          changes.push({ kind: 'resolved', incident: resolve(byKey, current, stamp) });
      return changes;
    },
    forgetResolvedBefore(before) {
      const gone: string[] = [];
      for (const i of byKey.values())
        if (i.status === 'resolved' && i.resolvedAt && Date.parse(i.resolvedAt) < before.getTime()) gone.push(i.key);
      for (const key of gone) byKey.delete(key);
      return gone;
    },
    list: () => sortIncidents([...byKey.values()]),
    get: (key) => byKey.get(key),
  };
}

function resolve(byKey: Map<string, Incident>, current: Incident, stamp: string): Incident {
  const incident: Incident = {
    ...current,
    status: 'resolved',
    updatedAt: stamp,
    resolvedAt: stamp,
    revision: current.revision + 1,
  };
  byKey.set(current.key, incident);
  return incident;
}

/** Open first, critical before warning, then by the latest change, newest first. */
export function sortIncidents(incidents: Incident[]): Incident[] {
  return incidents.sort(
    (a, b) =>
      Number(b.status === 'open') - Number(a.status === 'open') ||
      Number(b.severity === 'critical') - Number(a.severity === 'critical') ||
      Date.parse(b.updatedAt) - Date.parse(a.updatedAt) ||
      a.key.localeCompare(b.key),
  );
}

/** The dashboard's incidents panel, with the incident named (the page highlights it). */
export function linkTo(dashboardUrl: string, key: string): string {
  const url = new URL(dashboardUrl);
  url.searchParams.set('incident', key);
  url.hash = 'incidents';
  return url.toString();
}
