import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { ensureStackSecret } from '../stack/secrets.ts';
import { hmacHasher, type StringMasker, stringMasker } from './maskValue.ts';
import { PII_ZONES, type PiiAction, type PiiPolicies, type PiiZone, zoneActions } from './piiPolicy.ts';

/**
 * The PII policies of one process, checked and ready: what each zone's `maskPii` operator does.
 * Built once at start-up (`piiMaskingOf`); the key lives only inside the hasher's closure.
 */
export interface PiiMasking {
  readonly actions: Readonly<Record<PiiZone, PiiAction>>;
  /** How a zone masks a marked string; undefined when it passes values on as they are. */
  maskerFor(zone: PiiZone): StringMasker | undefined;
}

/**
 * The masking of `policies`: PII_POLICY_CONFLICT when a zone would reveal more than the zone it
 * reads, PII_KEY_MISSING when a zone hashes and there is no key.
 *
 * @example createPiiMasking(DEFAULT_PII_POLICIES, key).maskerFor('silver')!('email', 'ada@example.com')
 */
export function createPiiMasking(policies: PiiPolicies, key = ''): PiiMasking {
  const actions = zoneActions(policies);
  const hashing = PII_ZONES.filter((z) => actions[z] === 'hash');
  if (hashing.length && !key)
    throw new SluiceError(
      'PII_KEY_MISSING',
      `the hash policy of ${hashing.map((z) => `SLUICE_PII_${z.toUpperCase()}`).join(', ')} needs a key, and ` +
        'SLUICE_PII_KEY (or SLUICE_PII_KEY_FILE) is not set',
    );
  const hash = key ? hmacHasher(key) : undefined;
  const maskers = new Map<PiiZone, StringMasker>();
  for (const zone of PII_ZONES) {
    const action = actions[zone];
    if (action !== 'pass' && action !== 'keep') maskers.set(zone, stringMasker(action, hash));
  }
  return { actions, maskerFor: (zone) => maskers.get(zone) };
}

/** Where nothing configured the masking (an instance built without it): every marked field redacted. */
export const REDACT_EVERYWHERE: PiiMasking = createPiiMasking({
  silver: 'redact',
  staging: 'redact',
  warehouse: 'redact',
  feed: 'redact',
});

/** The zone policies of a configuration. */
export function piiPoliciesOf(cfg: Config): PiiPolicies {
  return { silver: cfg.piiSilver, staging: cfg.piiStaging, warehouse: cfg.piiWarehouse, feed: cfg.piiFeed };
}

/**
 * The masking of a configuration, checked at start-up. The key is SLUICE_PII_KEY (or its _FILE),
 * else the local stack's `<stack>/secrets/pii-key`, which `dev up` generates — or the first
 * process that needs it, in a stack directory `dev up` made before keys existed. Outside a local
 * stack (no `<stack>/secrets/`) there is no default: every runner that hashes must share one key.
 */
export function piiMaskingOf(cfg: Config): PiiMasking {
  const policies = piiPoliciesOf(cfg);
  const needsKey = Object.values(zoneActions(policies)).includes('hash');
  const key = cfg.piiKey || (needsKey ? localStackKey(cfg.stackDir) : '');
  return createPiiMasking(policies, key);
}

function localStackKey(stackDir: string): string {
  return existsSync(path.join(stackDir, 'secrets')) ? ensureStackSecret(stackDir, 'pii-key') : '';
}
