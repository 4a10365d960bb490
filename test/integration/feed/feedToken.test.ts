import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/config.ts';
import { dashboardUrl } from '../../../src/feed/feedToken.ts';
import { startFeedServer } from '../../../src/feed/feedServer.ts';
import { realStack } from '../../support/stack.ts';
import { FeedClient, refusedStatus } from './feedTestKit.ts';

/** The configuration a user gets with nothing set about the feed, in a stack directory of its own. */
function defaults(extra: Record<string, string> = {}) {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.SLUICE_FEED_TOKEN;
  delete env.SLUICE_FEED_TOKEN_FILE;
  Object.assign(env, { SLUICE_STACK_DIR: mkdtempSync(path.join(tmpdir(), 'sluice-feed-token-')) }, extra);
  return { ...loadConfig(env), httpPort: 0 };
}

test('by default the feed requires a generated token; the dashboard URL carries it; set empty, the feed is open', async () => {
  await realStack();
  const cfg = defaults();
  assert.equal(cfg.feedToken, undefined, 'nothing configured, nothing generated yet');
  const srv = await startFeedServer(cfg, { host: '127.0.0.1', port: 0 });
  try {
    const wsUrl = `${srv.url.replace(/^http/, 'ws')}/ws`;
    const file = path.join(cfg.stackDir, 'secrets', 'feed-token');
    const token = readFileSync(file, 'utf8').trim();
    assert.ok(token.length >= 20, 'a generated token');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only');
    assert.equal(await refusedStatus(wsUrl), 401, 'no token');
    assert.equal(await refusedStatus(`${wsUrl}?token=${token}x`), 401, 'wrong token');

    // What the person at the terminal is given: the dashboard URL, whose token the page passes on.
    const url = new URL(dashboardUrl(srv.url, token));
    assert.equal(url.searchParams.get('token'), token);
    assert.equal((await fetch(url)).status, 200, 'the dashboard page');
    const client = await FeedClient.open(`${wsUrl}?token=${encodeURIComponent(url.searchParams.get('token')!)}`);
    await client.close();

    // A later start reads the same token (a dashboard left open keeps working after a restart).
    assert.equal(
      loadConfig({ ...process.env, SLUICE_STACK_DIR: cfg.stackDir, SLUICE_FEED_TOKEN: undefined }).feedToken,
      token,
    );
  } finally {
    await srv.close();
  }

  const open = await startFeedServer(defaults({ SLUICE_FEED_TOKEN: '' }), { host: '127.0.0.1', port: 0 });
  try {
    const client = await FeedClient.open(`${open.url.replace(/^http/, 'ws')}/ws`);
    await client.close();
  } finally {
    await open.close();
  }
});
