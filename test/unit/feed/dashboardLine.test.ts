import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/config.ts';
import { dashboardLine } from '../../../src/feed/feedToken.ts';

const cfgIn = (stackDir: string, token?: string) =>
  loadConfig({ SLUICE_STACK_DIR: stackDir, ...(token === undefined ? {} : { SLUICE_FEED_TOKEN: token }) });

test('the dashboard line carries the token on a terminal, and never in output that is not a terminal (logs)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-dash-'));
  const onTerminal = dashboardLine('http://127.0.0.1:8080', cfgIn(dir), true);
  const token = readFileSync(path.join(dir, 'secrets', 'feed-token'), 'utf8').trim();
  assert.equal(onTerminal, `http://127.0.0.1:8080/?token=${token}`);
  const piped = dashboardLine('http://127.0.0.1:8080', cfgIn(dir), false);
  assert.ok(!piped.includes(token), 'no secret in piped output');
  assert.ok(piped.includes(path.join(dir, 'secrets', 'feed-token')), `says where the token is: ${piped}`);
  assert.equal(dashboardLine('http://h:1/', cfgIn(dir, ''), false), 'http://h:1/', 'no token configured');
  assert.ok(!dashboardLine('http://h:1', cfgIn(dir, 'given-secret'), false).includes('given-secret'));
});
