import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../../src/config/config.ts';
import { portOpen } from '../../../src/stack/processes.ts';

const SLUICE = path.join(PROJECT_ROOT, 'bin/sluice.js');

/**
 * A first `dev up` whose Java services cannot be fetched (the cache is not writable): Postgres
 * starts, the rest fail. The command must fail with the logs to read, and stop Postgres again.
 * Own ports and directories, so the suite's stack is not touched.
 */
test('a failed `dev up` stops the services it started and names the log of each that failed', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-devup-'));
  chmodSync(dir, 0o755); // as root, Postgres runs as the postgres user, which must reach its data directory
  const blocked = path.join(dir, 'not-a-directory');
  writeFileSync(blocked, 'a file where the artifact cache should be');
  const ports = { pg: 45432, kafka: 49092, controller: 49093, registry: 48081, s3: 44566 };
  const res = spawnSync(process.execPath, [SLUICE, 'dev', 'up'], {
    encoding: 'utf8',
    cwd: PROJECT_ROOT,
    timeout: 120_000,
    env: {
      ...process.env,
      SLUICE_STACK_DIR: path.join(dir, 'stack'),
      SLUICE_CACHE_DIR: path.join(blocked, 'cache'),
      SLUICE_PG_PORT: String(ports.pg),
      SLUICE_KAFKA_BROKERS: `127.0.0.1:${ports.kafka}`,
      SLUICE_KAFKA_CONTROLLER_PORT: String(ports.controller),
      SLUICE_REGISTRY_PORT: String(ports.registry),
      SLUICE_REGISTRY_URL: `http://127.0.0.1:${ports.registry}/apis/ccompat/v7`,
      SLUICE_S3_PORT: String(ports.s3),
      SLUICE_S3_ENDPOINT: `http://127.0.0.1:${ports.s3}`,
    },
  });
  const out = `${res.stdout}${res.stderr}`;
  assert.equal(res.status, 1, out);
  assert.match(out, /postgres: ready/, 'Postgres did start');
  assert.match(out, /stopping the services this start brought up \(.*postgres.*\)/);
  assert.match(out, /postgres: stopped/);
  for (const service of ['kafka', 'registry', 's3'])
    assert.ok(
      out.includes(path.join(dir, 'stack', 'logs', `${service}.log`)),
      `the error names ${service}'s log:\n${out}`,
    );
  assert.ok(existsSync(path.join(dir, 'stack', 'secrets', 'feed-token')), 'dev up generated the feed token');
  for (const [name, port] of Object.entries(ports))
    assert.equal(await portOpen(port), false, `${name} port ${port} free`);
});
