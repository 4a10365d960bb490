/**
 * Samples of a number over time per subject, for the signals that compare now with a while ago
 * (DLQ rate, growing lag): the samples of the last `keepMs` and the one just before them.
 */
export interface Sample {
  at: number;
  value: number;
}

export interface SampleHistory {
  /** Adds a sample and returns the subject's samples, oldest first. */
  add(subject: string, at: number, value: number): readonly Sample[];
  /** Forgets subjects not in `present` (a deleted topic, a removed group). */
  retain(present: ReadonlySet<string>): void;
}

/** A history keeping, per subject, what a window of `keepMs` needs. */
export function sampleHistory(keepMs: number): SampleHistory {
  const bySubject = new Map<string, Sample[]>();
  return {
    add(subject, at, value) {
      const samples = bySubject.get(subject) ?? [];
      samples.push({ at, value });
      // Keep the newest sample at or before the window's start: it is the window's base.
      while (samples.length > 2 && samples[1].at <= at - keepMs) samples.shift();
      bySubject.set(subject, samples);
      return samples;
    },
    retain(present) {
      for (const s of [...bySubject.keys()]) if (!present.has(s)) bySubject.delete(s);
    },
  };
}

/**
 * The sample a window of `windowMs` ending at the last sample starts from: the newest at or before
 * its start, else the oldest.
 */
export function windowBase(samples: readonly Sample[], windowMs: number): Sample | undefined {
  if (samples.length < 2) return undefined;
  const last = samples[samples.length - 1];
  let base = samples[0];
  for (const s of samples.slice(0, -1)) if (s.at <= last.at - windowMs) base = s;
  return base;
}

/** A number's order of magnitude, in powers of ten of `unit`: an update is news when it moves. */
export function magnitude(value: number, unit: number): number {
  if (value <= 0 || unit <= 0) return 0;
  return Math.floor(Math.log10(value / unit));
}
