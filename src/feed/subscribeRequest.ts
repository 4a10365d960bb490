import { METRIC_NAME_PATTERN } from './feedUpdate.ts';

/** Most metrics one connection may subscribe to. */
export const MAX_SUBSCRIBED_METRICS = 100;

/** A valid subscribe, or the error to answer with. */
export type SubscribeRequest =
  | { ok: true; metrics: string[]; cursor: unknown }
  | { ok: false; code: 'INVALID_REQUEST' | 'INVALID_SUBSCRIBE'; message: string };

/**
 * Parses a client's text frame as `{"subscribe": ["revenue_per_minute", ...], "cursor"?: "..."}`.
 * The cursor is passed on as it came: `decodeCursor` validates it.
 *
 * @example
 *   parseSubscribeRequest(Buffer.from('{"subscribe":["revenue_per_minute"]}'));
 *   // { ok: true, metrics: ['revenue_per_minute'], cursor: undefined }
 */
export function parseSubscribeRequest(data: Buffer | ArrayBuffer | Buffer[]): SubscribeRequest {
  let msg: unknown;
  try {
    msg = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
  } catch {
    return { ok: false, code: 'INVALID_REQUEST', message: 'the message is not JSON' };
  }
  const sub = (msg as { subscribe?: unknown } | null)?.subscribe;
  if (
    !Array.isArray(sub) ||
    sub.length === 0 ||
    sub.length > MAX_SUBSCRIBED_METRICS ||
    !sub.every((m) => typeof m === 'string' && METRIC_NAME_PATTERN.test(m))
  ) {
    return {
      ok: false,
      code: 'INVALID_SUBSCRIBE',
      message:
        `expected {"subscribe": ["revenue_per_minute", ...], "cursor"?: "..."} ` +
        `with 1 to ${MAX_SUBSCRIBED_METRICS} metric names`,
    };
  }
  return { ok: true, metrics: sub as string[], cursor: (msg as { cursor?: unknown }).cursor };
}
