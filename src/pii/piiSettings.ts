import { z } from 'zod';
import type { Setting } from '../config/settingSchemas.ts';
import { DEFAULT_PII_POLICIES, PII_POLICIES } from './piiPolicy.ts';

const policy = z.enum(PII_POLICIES);
const COMPOSE = 'at least as strict as silver: the same policy, or redact';

/**
 * The PII settings, declared beside what reads them (`piiMasking.ts`): one policy per zone and
 * the key of the `hash` policy. Joined into the settings table by src/config/config.ts.
 */
export const PII_SETTINGS = {
  piiSilver: {
    env: 'SLUICE_PII_SILVER',
    description:
      'What silver.* topics hold in fields marked "sluice.pii": hash (HMAC-SHA-256 with SLUICE_PII_KEY), redact, ' +
      'truncate or keep (see Personal data)',
    default: DEFAULT_PII_POLICIES.silver,
    schema: policy,
  },
  piiStaging: {
    env: 'SLUICE_PII_STAGING',
    description: `PII policy of the S3 staging zone (${COMPOSE})`,
    default: DEFAULT_PII_POLICIES.staging,
    schema: policy,
  },
  piiWarehouse: {
    env: 'SLUICE_PII_WAREHOUSE',
    description: `PII policy of the warehouse tables (${COMPOSE})`,
    default: DEFAULT_PII_POLICIES.warehouse,
    schema: policy,
  },
  piiFeed: {
    env: 'SLUICE_PII_FEED',
    description: `PII policy of the live feed (${COMPOSE})`,
    default: DEFAULT_PII_POLICIES.feed,
    schema: policy,
  },
  piiKey: {
    env: 'SLUICE_PII_KEY',
    description:
      'Secret key of the hash policy, 16 characters or more (or _FILE; the same everywhere hashes must join; ' +
      'the local stack generates one)',
    secret: true,
    schema: z.string().refine((k) => k === '' || k.length >= 16, 'at least 16 characters'),
  },
} as const satisfies Record<string, Setting>;
