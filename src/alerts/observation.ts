import type { AlertRuleName, Evidence, Severity } from './incident.ts';

/**
 * What a signal source says about one subject at one evaluation: the rule's condition holds
 * (`firing`), does not (`ok`), or cannot be told now (`unknown`: a measurement failed, too few
 * samples yet) — unknown leaves an incident as it is, neither opened nor resolved.
 */
export interface Observation {
  rule: AlertRuleName;
  subject: string;
  state: 'firing' | 'ok' | 'unknown';
  /** Default: the rule's. */
  severity?: Severity;
  /** One line for people, with the numbers. */
  summary: string;
  evidence: Evidence;
  /**
   * The evidence fields whose change is news: an open incident is updated (a record, a webhook)
   * only when one of them changes, not on every evaluation. Default: every field.
   */
  significant?: readonly string[];
}

/**
 * A pluggable signal: a small function measuring something now and answering an observation per
 * subject it knows. It decides the rules it names: an open incident of those rules whose subject it
 * no longer reports is resolved (the subject is gone), but only after a successful `observe` — a
 * source that throws leaves its incidents as they are.
 *
 * @example
 *   const source: SignalSource = { name: 'readiness', rules: ['runner_not_ready'], observe: async () => [...] };
 */
export interface SignalSource {
  name: string;
  rules: readonly AlertRuleName[];
  observe(signal: AbortSignal): Promise<Observation[]>;
}
