import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../../src/config/config.ts';
import { createEngineMetrics } from '../../../src/engine/engineMetrics.ts';

const SLUICE = path.join(PROJECT_ROOT, 'bin', 'sluice.js');

function sluice(args: string[]) {
  return spawnSync(process.execPath, [SLUICE, ...args], { encoding: 'utf8', cwd: PROJECT_ROOT });
}

test('a command prints all of its output into a pipe before it exits', () => {
  // Larger than a pipe's 64 KiB buffer: process.exit used to drop what was still queued.
  const res = spawnSync('sh', ['-c', `"${process.execPath}" "${SLUICE}" describe --format json | cat`], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(res.status, 0);
  assert.ok(res.stdout.length > 65_536, `${res.stdout.length} bytes`);
  const graph = JSON.parse(res.stdout);
  assert.ok(typeof graph === 'object' && graph !== null);
});

test('sluice --version prints the package version', () => {
  const { version } = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
  const res = sluice(['--version']);
  assert.equal(res.status, 0);
  assert.equal(res.stdout.trim(), version);
});

test('a usage error carries SLUICE_ERR_CLI_USAGE and exits 1', () => {
  const res = sluice(['run', 'unexpected-argument']);
  assert.equal(res.status, 1);
  assert.match(res.stderr, /^error SLUICE_ERR_CLI_USAGE: too many arguments/);
  const missing = sluice(['replay-dlq']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^error SLUICE_ERR_CLI_USAGE: /);
});

test('process metrics on /metrics have one sluice_ prefix', async () => {
  const m = createEngineMetrics();
  const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
  assert.ok(names.includes('sluice_process_cpu_user_seconds_total'), names.join(', '));
  assert.ok(!names.some((n) => n.startsWith('sluice_process_process_')));
});

test('an unreachable service is a coded error naming the setting, the address and `sluice dev up`, at once', () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ['topics'],
      { SLUICE_KAFKA_BROKERS: '127.0.0.1:1' },
      /^error SLUICE_ERR_KAFKA_CONNECT_FAILED: .*127\.0\.0\.1:1 \(SLUICE_KAFKA_BROKERS\)/,
    ],
    [
      ['generate', 'oltp', '--customers', '1'],
      { SLUICE_PG_PORT: '1' },
      /^error SLUICE_ERR_PG_UNREACHABLE: .*127\.0\.0\.1:1 \(SLUICE_PG_HOST \/ SLUICE_PG_PORT\)/,
    ],
  ];
  for (const [args, env, expected] of cases) {
    const res = spawnSync(process.execPath, [SLUICE, ...args], {
      encoding: 'utf8',
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    assert.equal(res.status, 1, args.join(' '));
    assert.match(res.stderr, expected);
    assert.match(res.stderr, /sluice dev up/);
    assert.doesNotMatch(res.stderr, /^\s+at /m, 'no stack trace');
    assert.doesNotMatch(res.stderr, /"level"/, 'no JSON log lines');
  }
});
