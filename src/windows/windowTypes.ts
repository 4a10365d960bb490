/** Event-time window definitions and the assignment of a timestamp to its windows. */

export interface TimeWindow {
  start: number;
  end: number;
}

export type WindowKind =
  | { kind: 'tumbling'; sizeMs: number }
  | { kind: 'hopping'; sizeMs: number; advanceMs: number }
  | { kind: 'session'; gapMs: number };

export const tumbling = (sizeMs: number): WindowKind => ({ kind: 'tumbling', sizeMs });
export const hopping = (sizeMs: number, advanceMs: number): WindowKind => ({ kind: 'hopping', sizeMs, advanceMs });
export const session = (gapMs: number): WindowKind => ({ kind: 'session', gapMs });

/** The fixed windows (tumbling or hopping) containing `ts`; a session's initial window is [ts, ts + gap). */
export function assignWindows(w: WindowKind, ts: number): TimeWindow[] {
  if (w.kind === 'tumbling') {
    const start = Math.floor(ts / w.sizeMs) * w.sizeMs;
    return [{ start, end: start + w.sizeMs }];
  }
  if (w.kind === 'hopping') {
    const out: TimeWindow[] = [];
    const last = Math.floor(ts / w.advanceMs) * w.advanceMs;
    for (let start = last; start > ts - w.sizeMs; start -= w.advanceMs) out.push({ start, end: start + w.sizeMs });
    return out.reverse();
  }
  return [{ start: ts, end: ts + w.gapMs }];
}

export function describeWindow(w: WindowKind): string {
  return w.kind === 'tumbling'
    ? `tumbling ${w.sizeMs}ms`
    : w.kind === 'hopping'
      ? `hopping ${w.sizeMs}ms every ${w.advanceMs}ms`
      : `session gap ${w.gapMs}ms`;
}
