import { fetchFailure } from '../fetchFailure.ts';
import type { Observation, SignalSource } from '../observation.ts';

/** A /readyz URL as a subject: origin and path, never credentials or a query. */
export function readyzSubject(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/** What one /readyz answered: its status and the topologies it says are not ready. */
export async function probeReadyz(
  url: string,
  timeoutMs: number,
): Promise<{ status: number | null; notReady: string[]; error: string | null }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    const body = (await res.json().catch(() => ({}))) as { topologies?: { topology?: string; ready?: boolean }[] };
    const notReady = (body.topologies ?? []).filter((t) => t.ready === false).map((t) => String(t.topology));
    return { status: res.status, notReady, error: null };
  } catch (err) {
    return { status: null, notReady: [], error: fetchFailure(err, timeoutMs) };
  }
}

/**
 * The runners' `/readyz` (ready: running, and no partition stalled with lag or records in flight):
 * fires for one that answers other than 200, or not at all.
 *
 * @example readinessSignal({ urls: ['http://127.0.0.1:8080/readyz'] })
 */
export function readinessSignal(opts: { urls: readonly string[]; timeoutMs?: number }): SignalSource {
  const timeoutMs = opts.timeoutMs ?? 3_000;
  return {
    name: 'readiness',
    rules: ['runner_not_ready'],
    async observe() {
      return Promise.all(
        opts.urls.map(async (url): Promise<Observation> => {
          const { status, notReady, error } = await probeReadyz(url, timeoutMs);
          const why = error
            ? `unreachable (${error})`
            : `HTTP ${status}${notReady.length ? `, not ready: ${notReady.join(', ')}` : ''}`;
          return {
            rule: 'runner_not_ready',
            subject: readyzSubject(url),
            state: status === 200 ? 'ok' : 'firing',
            summary: `runner ${why}`,
            evidence: { status, notReady, error },
            significant: ['status', 'notReady', 'error'],
          };
        }),
      );
    },
  };
}
