/**
 * `npm test`: starts the real local stack (if it is not up), runs unit and integration tests in
 * one node:test run (one summary) on the default Kafka client, then the Kafka-touching
 * integration tests again on the other client (a second summary: both clients are supported,
 * see SLUICE_KAFKA_CLIENT), and stops the stack afterwards if this script started it, even when
 * tests fail. `npm test -- unit` runs the unit tests alone, without the stack;
 * `npm test -- integration` the integration tests on the default client.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { stackDown, stackStatus, stackUp } from '../src/stack/stack.ts';

/**
 * The integration tests that go through a Kafka client (the rest talk to S3, Postgres or the
 * registry only), for the second client's pass. (secureStack.test.ts runs both clients itself.)
 */
const KAFKA_TESTS = [
  'test/integration/admin/*.test.ts',
  'test/integration/alerts/*.test.ts',
  'test/integration/cdc/*.test.ts',
  ...[
    'backpressure',
    'brokerRestart',
    'demoFailureCleanup',
    'durableDedupe',
    'exactlyOnce',
    'fastRejoin',
    'freshTopics',
    'groundTruth',
    'referenceCatchUp',
    'referenceReader',
    'runnerCrash',
    'runnerCustomers',
    'twoRunners',
  ].map((t) => `test/integration/engine/${t}.test.ts`),
  'test/integration/connectors/*.test.ts',
  'test/integration/feed/metricsFeed.test.ts',
  'test/integration/foundation/kafkaAvroRoundTrip.test.ts',
  'test/integration/foundation/registryOutage.test.ts',
  'test/integration/mcp/*.test.ts',
  'test/integration/pii/*.test.ts',
  'test/integration/quality/qualityScores.test.ts',
  'test/integration/shop/*.test.ts',
  'test/integration/warehouse/*.test.ts',
  'test/integration/windows/windowFinals.test.ts',
];

const only = process.argv[2];
const say = (l: string) => process.stdout.write(`${l}\n`);
const globs =
  only === 'unit'
    ? ['test/unit/**/*.test.ts']
    : only === 'integration'
      ? ['test/integration/**/*.test.ts']
      : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'];
const needsStack = only !== 'unit';

const failuresDir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
const passes: { title: string; file: string }[] = [];

function nodeTest(title: string, files: string[], env: NodeJS.ProcessEnv = {}): number {
  const failures = join(failuresDir, `pass-${passes.length + 1}.txt`);
  passes.push({ title, file: failures });
  const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout'];
  reporters.push('--test-reporter=./scripts/failureReporter.ts', `--test-reporter-destination=${failures}`);
  const args = ['--test', '--test-concurrency=1', '--test-timeout=900000', ...reporters, ...files];
  const res = spawnSync(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'error', ...env },
  });
  return res.status ?? 1;
}

/** Each pass's summary and failed tests once more, at the end, where a truncated log keeps them. */
function recap(): void {
  say('\n== test summary');
  for (const p of passes) {
    let lines: string[] = [];
    try {
      lines = readFileSync(p.file, 'utf8').split('\n').filter(Boolean);
    } catch {
      lines = ['(no report: the test runner did not start or was killed)'];
    }
    say(`${p.title}:`);
    for (const l of lines) say(`  ${l}`);
  }
}

const cfg = loadConfig();
let startedHere = false;
let status = 1;
try {
  if (needsStack) {
    startedHere = !(await stackStatus(cfg)).every((s) => s.healthy);
    const t0 = Date.now();
    await stackUp(cfg, say);
    say(`local stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  status = nodeTest(`${only ?? 'all'} tests, SLUICE_KAFKA_CLIENT=${cfg.kafkaClient}`, globs);
  if (!only) {
    const other = cfg.kafkaClient === 'kafkajs' ? 'platformatic' : 'kafkajs';
    say(`\n== the Kafka-touching integration tests again, on the other client: SLUICE_KAFKA_CLIENT=${other}`);
    const second = nodeTest(`Kafka-touching tests, SLUICE_KAFKA_CLIENT=${other}`, KAFKA_TESTS, {
      SLUICE_KAFKA_CLIENT: other,
    });
    status ||= second;
  }
} finally {
  recap();
  if (startedHere && !process.env.SLUICE_KEEP_STACK) await stackDown(cfg, say);
}
process.exit(status);
