/**
 * Event-time progress. Each upstream partition has a watermark: the largest event time seen minus
 * the allowed out-of-orderness (or, behind a repartition topic, the watermark its producer
 * reported). The stream's watermark is the minimum over upstream partitions that are not idle.
 * A partition idle longer than `idleTimeoutMs` is left out; when every partition is idle, event
 * time advances with the wall clock from where the most advanced partition stopped (after the
 * idle timeout), so a sparse stream (50 events per 5 minutes) still closes its windows, while a
 * pause in a replay of old data moves event time only by the length of the pause.
 */
export class WatermarkTracker {
  private readonly upstream = new Map<string, { wm: number; lastSeen: number }>();
  private current = -Infinity;
  private readonly outOfOrdernessMs: number;
  private readonly idleTimeoutMs: number;

  constructor(outOfOrdernessMs: number, idleTimeoutMs: number) {
    this.outOfOrdernessMs = outOfOrdernessMs;
    this.idleTimeoutMs = idleTimeoutMs;
  }

  /** Records an event time seen on `source`; `reported` is an upstream watermark header, if any. */
  observe(source: string, eventTime: number, now: number, reported?: number): void {
    const wm = reported ?? eventTime - this.outOfOrdernessMs;
    const u = this.upstream.get(source);
    if (!u) this.upstream.set(source, { wm, lastSeen: now });
    else {
      u.wm = Math.max(u.wm, wm);
      u.lastSeen = now;
    }
  }

  /** Restores a persisted watermark (a restart never moves event time backwards). */
  restore(wm: number): void {
    this.current = Math.max(this.current, wm);
  }

  /** The watermark now; never decreases. */
  watermark(now: number): number {
    let min = Infinity;
    let idleAdvance = -Infinity;
    for (const u of this.upstream.values()) {
      const idleFor = now - u.lastSeen;
      if (idleFor < this.idleTimeoutMs) min = Math.min(min, u.wm);
      else idleAdvance = Math.max(idleAdvance, u.wm + (idleFor - this.idleTimeoutMs));
    }
    this.current = Math.max(this.current, min === Infinity ? idleAdvance : min);
    return this.current;
  }
}
