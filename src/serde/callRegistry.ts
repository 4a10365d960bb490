import { errorCode, isSluiceError, SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { withRetry } from '../core/retry.ts';
import { RegistryHttpError } from './registryHttp.ts';

const log = createLogger('registry');

// Outages (connection refused, 5xx, timeouts) are retried with backoff; 4xx answers are final.
const isOutage = (err: unknown) => !(err instanceof RegistryHttpError) || err.status >= 500;

/**
 * Runs one registry request `fn`, retrying outages (up to 5 times, backoff from 200 ms to 3 s),
 * and turns what still fails into a SluiceError: REGISTRY_INCOMPATIBLE for a 409,
 * REGISTRY_REQUEST_FAILED for another refusal (with its status), REGISTRY_UNAVAILABLE when the
 * registry could not be reached. `what` names the request in messages; `base` the registry.
 *
 * @example
 *   const ids = await callRegistry(base, 'list subjects', () => http<string[]>('GET', '/subjects'));
 */
export function callRegistry<T>(base: string, what: string, fn: () => Promise<T>): Promise<T> {
  return withRetry(fn, {
    retries: 5,
    initialMs: 200,
    maxMs: 3000,
    retriable: isOutage,
    onRetry: (err, attempt) =>
      log.warn(
        { code: errorCode('REGISTRY_UNAVAILABLE'), attempt, what, err: String((err as Error).message) },
        'registry request failed; retrying',
      ),
  }).catch((err) => {
    throw asRegistryError(err, what, base);
  });
}

function asRegistryError(err: unknown, what: string, base: string): SluiceError {
  if (err instanceof SluiceError) return err;
  if (err instanceof RegistryHttpError) {
    if (err.status === 409) return new SluiceError('REGISTRY_INCOMPATIBLE', `${what}: ${err.message}`, { cause: err });
    if (err.status === 401 || err.status === 403) {
      const refused = `the schema registry at ${base} refused the credentials (HTTP ${err.status})`;
      return new SluiceError('REGISTRY_AUTH_FAILED', `${what}: ${refused}`, { cause: err });
    }
    return new SluiceError('REGISTRY_REQUEST_FAILED', `${what}: HTTP ${err.status} ${err.message}`, {
      cause: err,
      details: { status: err.status, errorCode: err.errorCode },
    });
  }
  return new SluiceError('REGISTRY_UNAVAILABLE', `${what}: ${(err as Error).message} (registry ${base})`, {
    cause: err,
  });
}

/**
 * Retries `fn` (a registration step) on a conflict, twice, 0.2 to 1 s apart. Two runners
 * registering the same subject at once: the registry can refuse the second with a conflict
 * (Apicurio: "a rule named 'COMPATIBILITY' already exists" while the first creates the
 * subject's config; or a version being written). A conflict that is real comes back on retry.
 *
 * @example
 *   const { id } = await retryConcurrentRegistration(() => callRegistry(base, `register ${subject}`, send));
 */
export function retryConcurrentRegistration<T>(fn: () => Promise<T>): Promise<T> {
  return withRetry(fn, {
    retries: 2,
    initialMs: 1000,
    maxMs: 1000,
    minMs: 200,
    retriable: (err) => isSluiceError(err, 'REGISTRY_INCOMPATIBLE'),
  });
}
