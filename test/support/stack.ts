import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { stackUp } from '../../src/stack/stack.ts';

/**
 * Integration tests use the real local stack. `npm test` starts it once before the suite;
 * a test file run on its own starts it here (idempotent: a running stack is reused).
 */
let ready: Promise<Config> | undefined;

export function realStack(): Promise<Config> {
  ready ??= (async () => {
    const cfg = loadConfig();
    await stackUp(cfg);
    // The suite's in-process feeds run open (their clients are the tests); the token a feed
    // requires by default is tested in feedToken.test.ts.
    return { ...cfg, feedToken: '' };
  })();
  return ready;
}

/** A name no other test (or earlier run) uses: topics, groups, tables, S3 prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Polls until `check` returns a truthy value; never a bare sleep in a test. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
