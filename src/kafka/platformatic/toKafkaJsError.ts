/**
 * Errors of @platformatic/kafka in the shape kafkajs gives them, so that what Sluice does with a
 * Kafka error — `isTransientKafkaError`, `kafkaErrorType`, crash-and-restart decisions — works the
 * same whichever driver threw it:
 *
 * - a broker error (`ProtocolError`) becomes a `KafkaJSProtocolError` whose `type` is kafkajs'
 *   name of the error code (four codes were renamed by Kafka after kafkajs named them);
 * - a response with several broker errors becomes a `KafkaJSAggregateError` of them;
 * - a failed retry chain ("x failed N times") becomes `KafkaJSNumberOfRetriesExceeded` whose
 *   `cause` is the last attempt's error;
 * - connection problems become `KafkaJSConnectionError` / `KafkaJSRequestTimeoutError`, and the
 *   "Unknown topic" error of a metadata request becomes UNKNOWN_TOPIC_OR_PARTITION.
 *
 * The platformatic error stays reachable as `cause` (for its `response` and details).
 */

/** Kafka error names that differ between the protocol (platformatic) and kafkajs. */
const KAFKAJS_TYPE: Record<string, string> = {
  NOT_LEADER_OR_FOLLOWER: 'NOT_LEADER_FOR_PARTITION',
  COORDINATOR_LOAD_IN_PROGRESS: 'GROUP_LOAD_IN_PROGRESS',
  COORDINATOR_NOT_AVAILABLE: 'GROUP_COORDINATOR_NOT_AVAILABLE',
  NOT_COORDINATOR: 'NOT_COORDINATOR_FOR_GROUP',
  UNKNOWN_SERVER_ERROR: 'UNKNOWN',
};

/** A Kafka error in kafkajs' shape (name, broker error type, retriable), wrapping the original. */
export class KafkaDriverError extends Error {
  readonly type?: string;
  readonly retriable: boolean;
  readonly errors?: unknown[];

  constructor(
    name: string,
    message: string,
    opts: { type?: string; retriable: boolean; cause?: unknown; errors?: unknown[] },
  ) {
    super(message, { cause: opts.cause });
    this.name = name;
    this.retriable = opts.retriable;
    if (opts.type !== undefined) this.type = opts.type;
    if (opts.errors) this.errors = opts.errors;
  }
}

interface PlatformaticError {
  code: string;
  message: string;
  apiId?: string;
  canRetry?: boolean;
  closed?: boolean;
  errors?: unknown[];
}

function isPlatformaticError(err: unknown): err is PlatformaticError & Error {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('PLT_KFK_');
}

/** kafkajs' name of a Kafka error id as @platformatic/kafka spells it. */
export function kafkaJsType(apiId: string): string {
  return KAFKAJS_TYPE[apiId] ?? apiId;
}

/**
 * `err` in kafkajs' shape if it comes from @platformatic/kafka, else `err` as it is.
 *
 * @example
 *   try { await admin.listOffsets(...) } catch (err) { throw toKafkaJsError(err); }
 */
export function toKafkaJsError(err: unknown): unknown {
  if (!isPlatformaticError(err)) return err;
  if (typeof err.apiId === 'string') {
    return new KafkaDriverError('KafkaJSProtocolError', err.message, {
      type: kafkaJsType(err.apiId),
      retriable: err.canRetry === true,
      cause: err,
    });
  }
  const auth = authenticationFailure(err);
  if (auth) {
    // A refused SASL handshake surfaces as a connection failure; kafkajs names it for what it is.
    const message = `SASL authentication failed: ${auth.message} (${err.message})`;
    return new KafkaDriverError('KafkaJSSASLAuthenticationError', message, { retriable: false, cause: err });
  }
  if (Array.isArray(err.errors) && err.errors.length) return fromMany(err, err.errors);
  if (err.code === 'PLT_KFK_NETWORK') return fromNetwork(err);
  if (err.code === 'PLT_KFK_USER' && /^Unknown topic /.test(err.message)) {
    return new KafkaDriverError('KafkaJSProtocolError', err.message, {
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
      retriable: true,
      cause: err,
    });
  }
  return new KafkaDriverError('KafkaJSError', err.message, { retriable: false, cause: err });
}

function fromMany(err: PlatformaticError & Error, errors: unknown[]): KafkaDriverError | unknown {
  const inner = errors.map(toKafkaJsError);
  if (/ failed \d+ times\.?/.test(err.message)) {
    const last = inner[inner.length - 1];
    return new KafkaDriverError('KafkaJSNumberOfRetriesExceeded', `${err.message} ${(last as Error)?.message ?? ''}`, {
      retriable: true,
      cause: last,
    });
  }
  if (inner.length === 1) return inner[0];
  return new KafkaDriverError('KafkaJSAggregateError', err.message, {
    retriable: inner.every((e) => (e as { retriable?: boolean }).retriable === true),
    cause: err,
    errors: inner,
  });
}

function fromNetwork(err: PlatformaticError & Error): KafkaDriverError {
  if (err.closed)
    return new KafkaDriverError('KafkaJSNonRetriableError', err.message, { retriable: false, cause: err });
  const name = /timed out/i.test(err.message) ? 'KafkaJSRequestTimeoutError' : 'KafkaJSConnectionError';
  return new KafkaDriverError(name, err.message, { retriable: true, cause: err });
}

/**
 * Runs `fn` and rethrows what it throws in kafkajs' shape (see `toKafkaJsError`).
 *
 * @example
 *   const topics = await translated(() => admin.listTopics());
 */
export async function translated<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKafkaJsError(err);
  }
}

/** The PLT_KFK_AUTHENTICATION error under `err` (in its causes or aggregated errors), if any. */
function authenticationFailure(err: unknown, depth = 0): Error | undefined {
  if (!err || typeof err !== 'object' || depth > 6) return undefined;
  const e = err as { code?: string; cause?: unknown; errors?: unknown[] };
  if (e.code === 'PLT_KFK_AUTHENTICATION') return err as Error;
  for (const inner of [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = authenticationFailure(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}
