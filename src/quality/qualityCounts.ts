/**
 * The quality counters on the record path: plain numbers in slots allocated when the pipeline is
 * built (one per step and source topic), incremented by `decode` and `validate` — no labels, no
 * closures, no allocation per record. The runner process reads them every few seconds
 * (`qualityPublisher.ts`) and turns the differences into per-minute counts.
 */

/** One step's counters for one source topic: records that reached the step, failures per expectation. */
export interface StepCounts {
  entered: number;
  /** Per expectation of the step, in its order (a validate step stops at the first failing rule). */
  readonly failed: number[];
}

/** The counters of one `decode` or `validate` step, per source topic (the last topic's slot cached). */
export class StepSlots {
  readonly expectations: readonly string[];
  readonly #byTopic = new Map<string, StepCounts>();
  #lastTopic: string | undefined;
  #last: StepCounts | undefined;

  constructor(expectations: readonly string[]) {
    this.expectations = expectations;
  }

  /** The slot of `topic`: on the record path, so the common case (same topic as before) is one comparison. */
  of(topic: string): StepCounts {
    if (topic === this.#lastTopic) return this.#last as StepCounts;
    let slot = this.#byTopic.get(topic);
    if (!slot) {
      slot = { entered: 0, failed: this.expectations.map(() => 0) };
      this.#byTopic.set(topic, slot);
    }
    this.#lastTopic = topic;
    this.#last = slot;
    return slot;
  }

  /** Per topic and expectation: records checked (reached the expectation) and failed, since start. */
  *totals(): Generator<{ topic: string; rule: string; checked: number; failed: number }> {
    for (const [topic, slot] of this.#byTopic) {
      let reached = slot.entered;
      for (let i = 0; i < this.expectations.length; i++) {
        yield { topic, rule: this.expectations[i], checked: reached, failed: slot.failed[i] };
        reached -= slot.failed[i];
      }
    }
  }
}

/** Cumulative counts of one expectation (topology, source topic, rule) since the process started. */
export interface QualityTotal {
  topology: string;
  topic: string;
  rule: string;
  checked: number;
  failed: number;
}

/** The identity of an expectation: `<topology>|<topic>|<rule>`. */
export function expectationId(e: { topology: string; topic: string; rule: string }): string {
  return `${e.topology}|${e.topic}|${e.rule}`;
}

/** The quality counters of one topology instance: its steps register here when the pipeline is built. */
export class QualityCounts {
  readonly topology: string;
  readonly #steps: StepSlots[] = [];

  constructor(topology: string) {
    this.topology = topology;
  }

  /** Slots for a step checking `expectations` (rule names, or `valid` for decode). */
  step(expectations: readonly string[]): StepSlots {
    const s = new StepSlots(expectations);
    this.#steps.push(s);
    return s;
  }

  /** Cumulative totals per expectation (steps repeating a rule on a topic add up). */
  totals(): QualityTotal[] {
    const out = new Map<string, QualityTotal>();
    for (const s of this.#steps)
      for (const t of s.totals()) {
        const total = { topology: this.topology, ...t };
        const id = expectationId(total);
        const seen = out.get(id);
        if (seen) {
          seen.checked += t.checked;
          seen.failed += t.failed;
        } else out.set(id, total);
      }
    return [...out.values()];
  }
}

/** Every topology's counters in one process (the runner's; see createEngineMetrics). */
export class QualityCounters {
  readonly #byTopology = new Map<string, QualityCounts>();

  /** The counters of `topology` (one object per name: a restarted instance keeps counting on). */
  topology(name: string): QualityCounts {
    let c = this.#byTopology.get(name);
    if (!c) {
      c = new QualityCounts(name);
      this.#byTopology.set(name, c);
    }
    return c;
  }

  totals(): QualityTotal[] {
    return [...this.#byTopology.values()].flatMap((c) => c.totals());
  }
}
