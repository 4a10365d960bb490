import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { isFenced } from '../kafka/isFenced.ts';

const log = createLogger('runner');

/** Broker restarts and leader moves pass; two minutes of nothing but failed transactions do not. */
const GIVE_UP_AFTER_MS = 120_000;

/** What a runner does about a failed exactly-once transaction. */
export type TransactionFailure =
  | { kind: 'give-up' }
  | { kind: 'fenced'; waitMs: number }
  | { kind: 'failed'; backoffMs: number };

/**
 * The exactly-once runner's failed transactions, and what each one calls for.
 *
 * - Any failure: the runner drops what its transactions buffered and resumes from the committed
 *   offsets and state, after a backoff that grows with the failures in a row.
 * - Fenced (another runner initialised the partition's transactional id): the group gave the
 *   partition to it while this one was away — a long GC pause, a frozen process. Fencing back at
 *   once, with the assignment this runner still believes in, made a thawed zombie and the new
 *   owner take turns fencing each other until the zombie heard of the rebalance (a run of the
 *   exactly-once test stalled for minutes that way). So a fenced runner holds its partitions
 *   (fetches nothing; its consumer heartbeats on and rejoins) until its next assignment, as Kafka
 *   Streams treats a fenced task as lost and rejoins. Only when none comes within the wait (the
 *   broker aborted a transaction that ran too long: nobody else owns the partition) does it
 *   fence and resume as after any other failure.
 * - Two minutes of nothing but failures: the runner stops.
 *
 * @example
 *   const next = failures.failed(err); // logged; { kind: 'fenced', waitMs: 12000 }
 *   if (failures.holding) pauseTheBatch();
 */
export class TransactionFailures {
  #count = 0;
  #since = 0;
  #holdUntil = 0;
  readonly #topology: string;
  readonly #fencedWaitMs: number;

  /** `sessionTimeoutMs`: the wait covers a heartbeat that hears of the rebalance, then the join. */
  constructor(topology: string, sessionTimeoutMs: number) {
    this.#topology = topology;
    this.#fencedWaitMs = Math.max(10_000, 2 * sessionTimeoutMs);
  }

  /** Failures in a row. */
  get count(): number {
    return this.#count;
  }

  /** Counts the failure of `err`, logs it, and says what to do about it. */
  failed(err: unknown): TransactionFailure {
    if (this.#count++ === 0) this.#since = Date.now();
    if (Date.now() - this.#since > GIVE_UP_AFTER_MS) return { kind: 'give-up' };
    const fields = {
      code: errorCode('KAFKA_TRANSIENT'),
      topology: this.#topology,
      err: (err as Error).message,
      failures: this.#count,
    };
    if (!isFenced(err)) {
      log.warn(fields, 'transaction failed; resuming from the committed offsets and state');
      return { kind: 'failed', backoffMs: Math.min(5000, 100 * 2 ** Math.min(this.#count, 6)) };
    }
    log.warn(fields, 'transaction fenced: another runner owns the partition; waiting for the group');
    this.#holdUntil = Date.now() + this.#fencedWaitMs;
    return { kind: 'fenced', waitMs: this.#fencedWaitMs };
  }

  succeeded(): void {
    this.#count = 0;
  }

  /** Fenced and waiting for the group: batches are held, not processed. */
  get holding(): boolean {
    return Date.now() < this.#holdUntil;
  }

  /** The wait is over: a new assignment came, or it timed out. */
  release(): void {
    this.#holdUntil = 0;
  }
}

/** Resolves after `ms`, or sooner once `done()` holds (looked at every 100 ms). */
export async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
}
