import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { requireServices } from '../../../src/cli/requireServices.ts';
import { type Config, loadConfig, PROJECT_ROOT, pgConnection } from '../../../src/config/config.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { retryKafka } from '../../../src/kafka/retryKafka.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';

/**
 * `sluice dev up --secure` on ports and a stack directory of its own: Kafka on SASL_SSL with
 * SCRAM-SHA-512 and the stack CA's certificate, the registry with basic auth, Postgres with TLS
 * only. Sluice's own clients connect with the settings the stack directory implies; wrong or
 * missing credentials and plaintext are refused with coded errors; no secret reaches a log.
 */

const SLUICE = path.join(PROJECT_ROOT, 'bin/sluice.js');
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-secure-'));
chmodSync(dir, 0o755); // as root, Postgres runs as the postgres user, which must reach its data directory
const env: Record<string, string | undefined> = {
  ...process.env,
  SLUICE_STACK_DIR: path.join(dir, 'stack'),
  SLUICE_PG_PORT: '46432',
  SLUICE_KAFKA_BROKERS: '127.0.0.1:46092',
  SLUICE_KAFKA_CONTROLLER_PORT: '46093',
  SLUICE_REGISTRY_PORT: '46081',
  SLUICE_REGISTRY_URL: 'http://127.0.0.1:46081/apis/ccompat/v7',
  SLUICE_S3_PORT: '46566',
  SLUICE_S3_ENDPOINT: 'http://127.0.0.1:46566',
};
for (const k of Object.keys(env))
  if (/^SLUICE_(KAFKA_S|REGISTRY_(USER|PASS)|PG_SSL|STACK_SECURE)/.test(k)) delete env[k];
let upOutput = '';

const sluice = (...args: string[]) =>
  spawnSync(process.execPath, [SLUICE, ...args], { encoding: 'utf8', cwd: PROJECT_ROOT, env, timeout: 240_000 });

before(() => {
  const up = sluice('dev', 'up', '--secure');
  upOutput = `${up.stdout}${up.stderr}`;
  assert.equal(up.status, 0, upOutput);
});

after(() => {
  sluice('dev', 'down');
});

const secret = (name: string) => readFileSync(path.join(dir, 'stack', 'secrets', name), 'utf8').trim();
const secureConfig = (more: Record<string, string | undefined> = {}): Config => loadConfig({ ...env, ...more });

test('a later command in the stack directory connects the secured way without being told', () => {
  const cfg = secureConfig();
  assert.equal(cfg.stackSecure, true);
  assert.equal(cfg.kafkaSsl, true);
  assert.equal(cfg.kafkaSaslMechanism, 'scram-sha-512');
  assert.equal(cfg.kafkaSaslPassword, secret('kafka-password'));
  assert.equal(cfg.registryPassword, secret('registry-password'));
  assert.equal(cfg.pgSslMode, 'verify-full');
  const topics = sluice('topics');
  assert.equal(topics.status, 0, `${topics.stdout}${topics.stderr}`);
});

for (const client of ['kafkajs', 'platformatic'] as const) {
  test(`Kafka (${client}): SASL_SSL with the stack's CA works; a wrong password is refused with KAFKA_AUTH_FAILED; plaintext gets nowhere`, async () => {
    const cfg = secureConfig({ SLUICE_KAFKA_CLIENT: client });
    const kafka = createKafkaClient(cfg, 'it-secure');
    const admin = kafka.admin();
    await admin.connect();
    const topic = `it-secure-${client}-${Date.now()}`;
    await ensureTopics(admin, [{ topic, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'over TLS' }] });
    await producer.disconnect();
    const [end] = await admin.fetchTopicOffsets(topic);
    assert.equal(end.high, '1', 'the record landed');
    await admin.disconnect();

    const wrong = createKafkaClient(
      secureConfig({ SLUICE_KAFKA_CLIENT: client, SLUICE_KAFKA_SASL_PASSWORD: 'not-it' }),
    );
    const wrongAdmin = wrong.admin();
    await assert.rejects(
      retryKafka(async () => {
        await wrongAdmin.connect();
        return wrongAdmin.listTopics();
      }, 'listing topics with a wrong password'),
      (err: Error & { code?: string }) => err.code === 'SLUICE_ERR_KAFKA_AUTH_FAILED' && /SASL/i.test(err.message),
    );
    await wrongAdmin.disconnect().catch(() => {});

    const plain = createKafkaClient(secureConfig({ SLUICE_KAFKA_CLIENT: client, SLUICE_STACK_SECURE: 'false' }));
    const plainAdmin = plain.admin();
    await assert.rejects(
      retryKafka(
        async () => {
          await plainAdmin.connect();
          return plainAdmin.listTopics();
        },
        'listing topics in plaintext',
        { maxElapsedMs: 3000 },
      ),
    );
    await plainAdmin.disconnect().catch(() => {});
  });
}

test('registry: basic auth works with the generated password; a wrong or missing one is REGISTRY_AUTH_FAILED', async () => {
  const schema = { type: 'record' as const, name: 'Probe', fields: [{ name: 'id', type: 'string' as const }] };
  const subject = `it-secure-${Date.now()}-value`;
  const id = await createRegistryClient(secureConfig()).register(subject, schema);
  assert.ok(id > 0);
  for (const more of [{ SLUICE_REGISTRY_PASSWORD: 'not-it' }, { SLUICE_STACK_SECURE: 'false' }]) {
    await assert.rejects(createRegistryClient(secureConfig(more)).subjects(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SLUICE_ERR_REGISTRY_AUTH_FAILED', err.message);
      return true;
    });
  }
});

test('Postgres: TLS verified against the stack CA; no TLS and a wrong password are refused (PG_AUTH_FAILED)', async () => {
  const cfg = secureConfig();
  const client = new pg.Client(pgConnection(cfg, 'postgres'));
  await client.connect();
  try {
    const { rows } = await client.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    assert.equal(rows[0].ssl, true, 'the session is encrypted');
  } finally {
    await client.end();
  }
  for (const [more, text] of [
    [{ SLUICE_PG_SSLMODE: 'disable' }, /no encryption/],
    [{ SLUICE_PG_PASSWORD: 'not-it' }, /password authentication failed/],
  ] as const) {
    await assert.rejects(requireServices(secureConfig(more), ['postgres']), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SLUICE_ERR_PG_AUTH_FAILED', err.message);
      assert.match(err.message, text);
      return true;
    });
  }
});

test('no generated secret appears in the output of `dev up` or in any service log', () => {
  const secrets = ['kafka-password', 'kafka-admin-password', 'registry-password', 'pg-password', 'tls-store-password'];
  const logs = path.join(dir, 'stack', 'logs');
  const texts = [upOutput, ...readdirSync(logs).map((f) => readFileSync(path.join(logs, f), 'utf8'))];
  for (const name of secrets) {
    const value = secret(name);
    assert.ok(value.length >= 20, `${name} generated`);
    for (const t of texts) assert.ok(!t.includes(value), `${name} leaked into output or a log`);
  }
});
