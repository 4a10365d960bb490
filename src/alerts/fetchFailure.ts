/**
 * Why a `fetch` failed, in a few words safe to log: a timeout, the socket error code
 * (ECONNREFUSED, ENOTFOUND), or undici's reason (never the URL, which may carry a token).
 *
 * @example fetchFailure(err, 5000) // 'ECONNREFUSED', 'no answer within 5000 ms'
 */
export function fetchFailure(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return e.cause?.code ?? e.cause?.message ?? e.name;
}
