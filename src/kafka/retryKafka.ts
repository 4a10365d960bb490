import { errorCode, SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { withRetry } from '../core/retry.ts';
import { isTransientKafkaError, kafkaErrorType } from './isTransientKafkaError.ts';

const log = createLogger('kafka');

/** Longest a `retryKafka` call keeps retrying: leader elections and coordinator moves take seconds. */
export const KAFKA_RETRY_MAX_ELAPSED_MS = 60_000;

/**
 * Runs `fn` (an idempotent Kafka call: metadata, offsets, connect/subscribe) and retries it on
 * transient errors with exponential backoff and full jitter for up to `maxElapsedMs`. Any other
 * error is thrown at once, as it is; transient errors that outlast the bound become
 * SLUICE_ERR_KAFKA_TRANSIENT, naming `what` was being done.
 *
 * @example
 *   const ends = await retryKafka(() => admin.fetchTopicOffsets(topic), `end offsets of ${topic}`);
 */
export async function retryKafka<T>(
  fn: () => Promise<T>,
  what: string,
  opts: { maxElapsedMs?: number; signal?: AbortSignal; retriable?: (err: unknown) => boolean } = {},
): Promise<T> {
  const retriable = opts.retriable ?? isTransientKafkaError;
  const started = Date.now();
  try {
    return await withRetry(fn, {
      retries: Infinity,
      initialMs: 100,
      maxMs: 2000,
      maxElapsedMs: opts.maxElapsedMs ?? KAFKA_RETRY_MAX_ELAPSED_MS,
      retriable,
      signal: opts.signal,
      onRetry: (err, attempt, delayMs) =>
        log.warn(
          {
            code: errorCode('KAFKA_TRANSIENT'),
            what,
            attempt,
            retryInMs: delayMs,
            type: kafkaErrorType(err),
            err: (err as Error)?.message,
          },
          'transient Kafka error; retrying',
        ),
    });
  } catch (err) {
    if (isAuthenticationError(err)) {
      const message = `${what}: the brokers refused Sluice's SASL credentials: ${(err as Error).message}`;
      throw new SluiceError('KAFKA_AUTH_FAILED', message, { cause: err });
    }
    if (opts.signal?.aborted || !retriable(err)) throw err;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    throw new SluiceError(
      'KAFKA_TRANSIENT',
      `${what}: still failing after ${seconds} s: ${(err as Error)?.message ?? String(err)}`,
      { cause: err, details: { what, type: kafkaErrorType(err) } },
    );
  }
}

/** A SASL handshake the broker refused: wrong user, password or mechanism (never transient). */
function isAuthenticationError(err: unknown): boolean {
  const e = err as { name?: string; type?: string; message?: string } | undefined;
  return (
    e?.name === 'KafkaJSSASLAuthenticationError' ||
    e?.type === 'SASL_AUTHENTICATION_FAILED' ||
    /SASL .*authentication failed|authentication failed .*SASL/i.test(e?.message ?? '')
  );
}
