import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, logLevelSetting, redactedConfig, SETTINGS } from '../../../src/config/config.ts';
import { isSluiceError } from '../../../src/core/errors.ts';

const stackDir = mkdtempSync(path.join(tmpdir(), 'sluice-cfg-'));

test('defaults point at the local stack', () => {
  const cfg = loadConfig({ SLUICE_STACK_DIR: stackDir });
  assert.equal(cfg.kafkaBrokers, '127.0.0.1:9092');
  assert.equal(cfg.registryUrl, 'http://127.0.0.1:8081/apis/ccompat/v7');
  assert.equal(cfg.s3Endpoint, 'http://127.0.0.1:4566');
  assert.equal(cfg.pgPort, 5432);
  assert.equal(cfg.httpHost, '127.0.0.1', 'HTTP binds to loopback unless configured');
  assert.equal(cfg.registryCompatibility, 'BACKWARD');
});

test('invalid values fail at start-up naming every variable to fix', () => {
  assert.throws(
    () =>
      loadConfig({
        SLUICE_STACK_DIR: stackDir,
        SLUICE_KAFKA_BROKERS: 'nope',
        SLUICE_PG_PORT: '70000',
        SLUICE_REGISTRY_COMPATIBILITY: 'SOMETIMES',
      }),
    (err: unknown) => {
      assert.ok(isSluiceError(err, 'CONFIG_INVALID'));
      assert.match(err.message, /SLUICE_KAFKA_BROKERS/);
      assert.match(err.message, /SLUICE_PG_PORT/);
      assert.match(err.message, /SLUICE_REGISTRY_COMPATIBILITY/);
      return true;
    },
  );
});

test('SASL without a user name is refused', () => {
  assert.throws(
    () => loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_KAFKA_SASL_MECHANISM: 'scram-sha-512' }),
    /SLUICE_KAFKA_SASL_USERNAME/,
  );
});

test('a config file supplies values; the environment wins over it', () => {
  const file = path.join(stackDir, 'sluice.yaml');
  writeFileSync(file, 'SLUICE_KAFKA_BROKERS: "b1:9092,b2:9092"\nSLUICE_HTTP_PORT: 9999\n');
  const cfg = loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_CONFIG_FILE: file, SLUICE_HTTP_PORT: '8181' });
  assert.equal(cfg.kafkaBrokers, 'b1:9092,b2:9092');
  assert.equal(cfg.httpPort, 8181);
  assert.throws(() => loadConfig({ SLUICE_CONFIG_FILE: path.join(stackDir, 'missing.yaml') }), /does not exist/);
});

test('secrets come from *_FILE and never appear in the printed configuration', () => {
  const secretFile = path.join(stackDir, 'pw');
  writeFileSync(secretFile, 'hunter2-from-file\n');
  const cfg = loadConfig({
    SLUICE_STACK_DIR: stackDir,
    SLUICE_PG_PASSWORD_FILE: secretFile,
    SLUICE_KAFKA_SASL_MECHANISM: 'plain',
    SLUICE_KAFKA_SASL_USERNAME: 'u',
    SLUICE_KAFKA_SASL_PASSWORD: 'sasl-secret',
  });
  assert.equal(cfg.pgPassword, 'hunter2-from-file');
  const printed = JSON.stringify(redactedConfig(cfg));
  assert.ok(!printed.includes('hunter2'));
  assert.ok(!printed.includes('sasl-secret'));
  assert.match(printed, /"SLUICE_PG_PASSWORD":"\[redacted\]"/);
});

test('every setting has a SLUICE_ variable and a description', () => {
  for (const s of Object.values(SETTINGS)) {
    assert.match(s.env, /^SLUICE_[A-Z0-9_]+$/);
    assert.ok(s.description.length > 5, s.env);
  }
});

test('the extract settings are in the table: defaults, variables, the config file, and an empty value as not set', () => {
  const defaults = loadConfig({ SLUICE_STACK_DIR: stackDir });
  assert.deepEqual(defaults.extractTables, ['customers', 'products', 'orders', 'order_items']);
  assert.equal(defaults.extractPageSize, 5000);
  assert.equal(defaults.extractWatermark, 'transaction-aware');
  assert.equal(defaults.extractCreateTopics, true);
  assert.equal(defaults.extractDatabase, '');
  const file = path.join(stackDir, 'extract.yaml');
  writeFileSync(file, 'SLUICE_EXTRACT_TABLES: [orders]\nSLUICE_EXTRACT_CREATE_TOPICS: false\n');
  const cfg = loadConfig({
    SLUICE_STACK_DIR: stackDir,
    SLUICE_CONFIG_FILE: file,
    SLUICE_EXTRACT_PAGE_SIZE: '',
    SLUICE_EXTRACT_SAFETY_LAG_MS: '0',
    SLUICE_EXTRACT_INTERVAL_MS: '600000',
  });
  assert.deepEqual(cfg.extractTables, ['orders']);
  assert.equal(cfg.extractCreateTopics, false);
  assert.equal(cfg.extractPageSize, 5000, 'an empty variable keeps the default');
  assert.equal(cfg.extractSafetyLagMs, 0);
  assert.equal(cfg.extractIntervalMs, 600_000);
  const fromEnv = loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_EXTRACT_TABLES: 'orders, customers' });
  assert.deepEqual(fromEnv.extractTables, ['orders', 'customers']);
});

test('bad extract settings fail at start-up naming their variables', () => {
  assert.throws(
    () =>
      loadConfig({
        SLUICE_STACK_DIR: stackDir,
        SLUICE_EXTRACT_PAGE_SIZE: '100001',
        SLUICE_EXTRACT_TABLES: 'orders,invoices',
        SLUICE_EXTRACT_WATERMARK: 'sometimes',
      }),
    (err: unknown) => {
      assert.ok(isSluiceError(err, 'CONFIG_INVALID'));
      assert.match(err.message, /SLUICE_EXTRACT_PAGE_SIZE/);
      assert.match(err.message, /SLUICE_EXTRACT_TABLES/);
      assert.match(err.message, /SLUICE_EXTRACT_WATERMARK/);
      return true;
    },
  );
});

test('the log level is a validated setting, from the environment or the config file', () => {
  assert.equal(logLevelSetting({}), 'info');
  assert.equal(logLevelSetting({ SLUICE_LOG_LEVEL: 'error' }), 'error');
  const file = path.join(stackDir, 'log.yaml');
  writeFileSync(file, 'SLUICE_LOG_LEVEL: warn\n');
  assert.equal(logLevelSetting({ SLUICE_CONFIG_FILE: file }), 'warn');
  assert.equal(logLevelSetting({ SLUICE_CONFIG_FILE: file, SLUICE_LOG_LEVEL: 'debug' }), 'debug');
  assert.equal(logLevelSetting({ SLUICE_CONFIG_FILE: path.join(stackDir, 'missing.yaml') }), 'info');
  assert.throws(() => logLevelSetting({ SLUICE_LOG_LEVEL: 'loud' }), /SLUICE_LOG_LEVEL/);
  assert.equal(loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_CONFIG_FILE: file }).logLevel, 'warn');
});
