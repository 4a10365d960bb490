import { EventEmitter } from 'node:events';

/** kafkajs' consumer event names (`consumer.events`), which Sluice listens to by these values. */
export const CONSUMER_EVENTS = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH_START: 'consumer.fetch_start',
  FETCH: 'consumer.fetch',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
  REQUEST: 'consumer.network.request',
  REQUEST_TIMEOUT: 'consumer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'consumer.network.request_queue_size',
} as const;

export type ConsumerEventName = (typeof CONSUMER_EVENTS)[keyof typeof CONSUMER_EVENTS];

/** A kafkajs instrumentation event: what a listener of `consumer.on` receives. */
export interface ConsumerEvent<P = unknown> {
  id: number;
  type: string;
  timestamp: number;
  payload: P;
}

const KNOWN = new Set<string>(Object.values(CONSUMER_EVENTS));

/**
 * kafkajs' instrumentation emitter: `on` takes one of `CONSUMER_EVENTS` (anything else throws, as
 * in kafkajs) and returns the function that removes the listener; listeners get
 * `{ id, type, timestamp, payload }`, synchronously, and a listener that throws or rejects does
 * not disturb the consumer.
 *
 * @example
 *   const events = new ConsumerEvents();
 *   const off = events.on(CONSUMER_EVENTS.CRASH, (e) => log(e.payload.error));
 */
export class ConsumerEvents {
  readonly #emitter = new EventEmitter();
  #nextId = 0;

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  on<P = any>(name: string, listener: (event: ConsumerEvent<P>) => unknown): () => void {
    if (!KNOWN.has(name)) throw new TypeError(`Event name should be one of ${[...KNOWN].join(', ')}`);
    const wrapped = (event: ConsumerEvent<P>) => {
      try {
        const r = listener(event) as Promise<unknown> | undefined;
        if (r && typeof r.catch === 'function') r.catch(() => {});
      } catch {
        /* a listener's failure is its own business, as in kafkajs */
      }
    };
    this.#emitter.on(name, wrapped);
    return () => this.#emitter.off(name, wrapped);
  }

  emit(name: ConsumerEventName, payload: unknown): void {
    this.#emitter.emit(name, { id: this.#nextId++, type: name, timestamp: Date.now(), payload });
  }
}
