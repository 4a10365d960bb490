const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

/**
 * Whether a transactional write failed because another producer initialised the same
 * transactional id (the broker bumped the epoch past ours): someone else owns what we wrote for.
 * Looks through causes and the per-partition errors of a response, in kafkajs' shape (`type`) or
 * @platformatic/kafka's (`apiId`), whichever client threw it.
 *
 * @example
 *   if (isFenced(err)) stopWriting(); // writing on would fence the new owner in turn
 */
export function isFenced(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 10) return false;
  const e = err as { type?: unknown; apiId?: unknown; cause?: unknown; errors?: unknown; message?: unknown };
  if (FENCED.has(String(e.type)) || FENCED.has(String(e.apiId))) return true;
  if (typeof e.message === 'string' && /fenced/i.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isFenced(x, depth + 1))) return true;
  return isFenced(e.cause, depth + 1);
}
