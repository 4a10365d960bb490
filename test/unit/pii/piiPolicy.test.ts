import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, redactedConfig } from '../../../src/config/config.ts';
import { isSluiceError } from '../../../src/core/errors.ts';
import { createPiiMasking, piiMaskingOf } from '../../../src/pii/piiMasking.ts';
import {
  composeAction,
  DEFAULT_PII_POLICIES,
  PII_POLICIES,
  type PiiPolicy,
  zoneActions,
} from '../../../src/pii/piiPolicy.ts';

const KEY = 'unit-test-key-0123456789';

test('a zone reading silver keeps its values (pass), redacts them, or takes any policy over kept values', () => {
  const table: [PiiPolicy, PiiPolicy, string | undefined][] = [
    ['hash', 'hash', 'pass'],
    ['hash', 'redact', 'redact'],
    ['hash', 'keep', undefined],
    ['hash', 'truncate', undefined],
    ['truncate', 'hash', undefined],
    ['truncate', 'truncate', 'pass'],
    ['redact', 'keep', undefined],
    ['redact', 'hash', undefined],
    ['redact', 'redact', 'pass'],
    ['keep', 'keep', 'keep'],
    ['keep', 'hash', 'hash'],
    ['keep', 'truncate', 'truncate'],
  ];
  for (const [silver, own, expected] of table)
    assert.equal(composeAction(silver, own), expected, `silver=${silver}, downstream=${own}`);
});

test('zoneActions: the defaults hash in silver and pass it on; an impossible combination is PII_POLICY_CONFLICT', () => {
  assert.deepEqual(zoneActions(DEFAULT_PII_POLICIES), {
    silver: 'hash',
    staging: 'pass',
    warehouse: 'pass',
    feed: 'pass',
  });
  assert.throws(
    () => zoneActions({ ...DEFAULT_PII_POLICIES, warehouse: 'keep', feed: 'truncate' }),
    (err: unknown) =>
      isSluiceError(err, 'PII_POLICY_CONFLICT') &&
      /SLUICE_PII_WAREHOUSE=keep cannot follow SLUICE_PII_SILVER=hash/.test(err.message) &&
      /SLUICE_PII_FEED=truncate/.test(err.message),
  );
});

test('settings: every zone defaults to hash, takes the four policies, and refuses anything else at load', () => {
  const env = { SLUICE_STACK_DIR: mkdtempSync(path.join(tmpdir(), 'pii-cfg-')) };
  const cfg = loadConfig(env);
  assert.deepEqual([cfg.piiSilver, cfg.piiStaging, cfg.piiWarehouse, cfg.piiFeed], ['hash', 'hash', 'hash', 'hash']);
  for (const p of PII_POLICIES) assert.equal(loadConfig({ ...env, SLUICE_PII_FEED: p }).piiFeed, p);
  assert.throws(
    () => loadConfig({ ...env, SLUICE_PII_WAREHOUSE: 'encrypt' }),
    (err: unknown) => isSluiceError(err, 'CONFIG_INVALID') && /SLUICE_PII_WAREHOUSE/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ ...env, SLUICE_PII_KEY: 'short' }),
    (err: unknown) => isSluiceError(err, 'CONFIG_INVALID') && /SLUICE_PII_KEY: at least 16/.test(err.message),
  );
});

test('start-up: a hash policy without a key is PII_KEY_MISSING; redact and truncate need none', () => {
  const stackDir = mkdtempSync(path.join(tmpdir(), 'pii-nostack-')); // no secrets/: not a local stack
  assert.throws(
    () => piiMaskingOf(loadConfig({ SLUICE_STACK_DIR: stackDir })),
    (err: unknown) => isSluiceError(err, 'PII_KEY_MISSING') && /SLUICE_PII_SILVER/.test(err.message),
  );
  assert.ok(!existsSync(path.join(stackDir, 'secrets', 'pii-key')), 'nothing generated outside a local stack');
  const redacting = piiMaskingOf(
    loadConfig({
      SLUICE_STACK_DIR: stackDir,
      SLUICE_PII_SILVER: 'redact',
      SLUICE_PII_STAGING: 'redact',
      SLUICE_PII_WAREHOUSE: 'redact',
      SLUICE_PII_FEED: 'redact',
    }),
  );
  assert.equal(redacting.maskerFor('silver')!('email', 'a@b.c'), '[redacted]');
  assert.throws(
    () => piiMaskingOf(loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_PII_KEY: KEY, SLUICE_PII_WAREHOUSE: 'keep' })),
    (err: unknown) => isSluiceError(err, 'PII_POLICY_CONFLICT'),
  );
});

test('the key: from SLUICE_PII_KEY or its _FILE, else generated once into a local stack; never shown', () => {
  const stackDir = mkdtempSync(path.join(tmpdir(), 'pii-stack-'));
  mkdirSync(path.join(stackDir, 'secrets'), { mode: 0o700 }); // what `dev up` leaves
  const first = piiMaskingOf(loadConfig({ SLUICE_STACK_DIR: stackDir }));
  const file = path.join(stackDir, 'secrets', 'pii-key');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const key = readFileSync(file, 'utf8').trim();
  assert.ok(key.length >= 16);
  const again = piiMaskingOf(loadConfig({ SLUICE_STACK_DIR: stackDir }));
  const expected = createPiiMasking(DEFAULT_PII_POLICIES, key).maskerFor('silver')!('email', 'a@b.c');
  assert.equal(first.maskerFor('silver')!('email', 'a@b.c'), expected);
  assert.equal(again.maskerFor('silver')!('email', 'a@b.c'), expected, 'stable across processes');

  const given = loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_PII_KEY: KEY });
  assert.equal(given.piiKey, KEY);
  assert.notEqual(piiMaskingOf(given).maskerFor('silver')!('email', 'a@b.c'), expected, 'the set key wins');
  assert.equal(redactedConfig(given).SLUICE_PII_KEY, '[redacted]');
  const keyFile = path.join(stackDir, 'my-key');
  writeFileSync(keyFile, `${KEY}\n`);
  assert.equal(loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_PII_KEY_FILE: keyFile }).piiKey, KEY);
  assert.ok(!JSON.stringify(piiMaskingOf(given)).includes(KEY), 'the masking object does not carry the key');
});
