import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../../../src/config/config.ts';
import { stackDown, stackStatus } from '../../../src/stack/stack.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

/**
 * A fatal error exits `sluice demo` non-zero AND stops what the command started: the services it
 * brought up (a failed acceptance run left a whole stack running), but never a stack that was
 * already up when it began.
 */

function runDemo(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'src/cli/main.ts'), 'demo', '--duration', '5s'], {
      env: { ...process.env, SLUICE_LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a demo that fails stops the services it started itself', async () => {
  const shared = loadConfig();
  const stackDir = mkdtempSync(path.join(tmpdir(), 'sluice-demo-fail-'));
  chmodSync(stackDir, 0o755); // as root, Postgres runs as the postgres user and must reach its data dir
  const [kafka, controller, registry, s3, postgres, http] = await Promise.all(Array.from({ length: 6 }, freePort));
  const env = {
    SLUICE_STACK_DIR: stackDir,
    SLUICE_CACHE_DIR: shared.cacheDir,
    SLUICE_KAFKA_BROKERS: `127.0.0.1:${kafka}`,
    SLUICE_KAFKA_CONTROLLER_PORT: String(controller),
    SLUICE_REGISTRY_PORT: String(registry),
    // The registry answers its health check but every schema call gets a 404: the demo fails
    // after the stack is up and the shop is seeded, at its first schema registration.
    SLUICE_REGISTRY_URL: `http://127.0.0.1:${registry}/no-such-api/ccompat/v7`,
    SLUICE_S3_PORT: String(s3),
    SLUICE_S3_ENDPOINT: `http://127.0.0.1:${s3}`,
    SLUICE_PG_PORT: String(postgres),
    SLUICE_HTTP_PORT: String(http),
  };
  const cfg = loadConfig({ ...process.env, ...env });
  try {
    const demo = await runDemo(env);
    assert.notEqual(demo.code, 0, 'the failed demo exits non-zero');
    assert.match(demo.stderr, /error SLUICE_ERR_REGISTRY_REQUEST_FAILED/);
    assert.match(demo.stdout, /postgres: starting/, 'the demo started the stack itself');
    const named = /stopping the services it started \(([^)]*)\)/.exec(demo.stdout)?.[1];
    assert.deepEqual(
      named?.split(', ').sort(),
      ['kafka', 'postgres', 'registry', 's3'],
      'the demo names all four as its own',
    );
    const after = await stackStatus(cfg);
    assert.deepEqual(
      after.map((s) => [s.name, s.state]),
      [
        ['postgres', 'stopped'],
        ['kafka', 'stopped'],
        ['registry', 'stopped'],
        ['s3', 'stopped'],
      ],
    );
  } finally {
    await stackDown(cfg).catch(() => {});
    rmSync(stackDir, { recursive: true, force: true });
  }
});

test('a demo that fails leaves a stack that was already up running', async () => {
  const cfg = await realStack();
  // A database the running stack does not have: the demo fails right after `up`, touching nothing.
  const demo = await runDemo({ SLUICE_OLTP_DATABASE: uniqueName('missing_db') });
  assert.notEqual(demo.code, 0, 'the failed demo exits non-zero');
  assert.doesNotMatch(demo.stdout, /stopping the services/);
  const after = await stackStatus(cfg);
  assert.ok(
    after.every((s) => s.healthy),
    `every service still up: ${JSON.stringify(after.map((s) => [s.name, s.state]))}`,
  );
});
