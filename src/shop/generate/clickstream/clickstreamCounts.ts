import { CLICK_BAD_KINDS, EVENT_TYPES, type ClickBadKind, type ClickMessage, type EventType } from './clickMessage.ts';

/** Exact counts of what the generator produced, by kind: the ground truth tests compare against. */
export interface ClickstreamCounts {
  /** Every message produced. */
  total: number;
  /**
   * Messages that decode and break no rule: total minus every bad kind (duplicates, out-of-order
   * and late included).
   */
  valid: number;
  /** Exact re-sends (same key and value bytes) of an earlier valid message. */
  duplicates: number;
  /** Valid events 1–10 s older than their session's latest earlier event. */
  outOfOrder: number;
  /** Valid events 2–30 min older than their session's latest earlier event. */
  late: number;
  bad: Record<ClickBadKind, number>;
  /** Valid events by type, duplicates excluded. */
  eventTypes: Record<EventType, number>;
}

/** Counts of nothing yet, with every kind and event type present. */
export function emptyClickstreamCounts(): ClickstreamCounts {
  return {
    total: 0,
    valid: 0,
    duplicates: 0,
    outOfOrder: 0,
    late: 0,
    bad: Object.fromEntries(CLICK_BAD_KINDS.map((k) => [k, 0])) as Record<ClickBadKind, number>,
    eventTypes: Object.fromEntries(EVENT_TYPES.map((k) => [k, 0])) as Record<EventType, number>,
  };
}

/** Adds one message of `kind` (and its event type, for valid non-duplicates) to the counts. */
export function tally(c: ClickstreamCounts, { kind, eventType }: Pick<ClickMessage, 'kind' | 'eventType'>): void {
  c.total++;
  if ((CLICK_BAD_KINDS as readonly string[]).includes(kind)) {
    c.bad[kind as ClickBadKind]++;
    return;
  }
  c.valid++;
  if (kind === 'duplicate') {
    c.duplicates++;
    return;
  }
  if (kind === 'out_of_order') c.outOfOrder++;
  else if (kind === 'late') c.late++;
  if (eventType) c.eventTypes[eventType]++;
}

/** The counts on two lines: the valid kinds, then every bad kind. */
export function formatClickstreamCounts(c: ClickstreamCounts): string {
  const bad = CLICK_BAD_KINDS.map((k) => `${k}=${c.bad[k]}`).join(' ');
  return (
    `total=${c.total} valid=${c.valid} duplicates=${c.duplicates} outOfOrder=${c.outOfOrder} late=${c.late}\n` +
    `bad: ${bad}`
  );
}
