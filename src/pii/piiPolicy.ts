import { SluiceError } from '../core/errors.ts';

/**
 * What personal data Sluice knows about and what it may do with it. Fields are marked in the
 * `.avsc` files (`"sluice.pii": "email"`); each zone that holds copies of records has a policy.
 * The zones read each other, so their policies compose: see `zoneActions`.
 */

/** The kinds of personal data a field can be marked with (`"sluice.pii"` in a schema). */
export const PII_KINDS = ['email', 'name', 'phone', 'address', 'free_text'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

/**
 * What a zone does to marked fields: `hash` (keyed HMAC-SHA-256, hex: stable, so joins and
 * distinct counts still work), `redact` (a constant), `truncate` (a small, kind-specific part),
 * `keep` (the original).
 */
export const PII_POLICIES = ['hash', 'redact', 'truncate', 'keep'] as const;
export type PiiPolicy = (typeof PII_POLICIES)[number];

/** The zones with a policy: silver topics, the S3 staging zone, the warehouse, the live feed. */
export const PII_ZONES = ['silver', 'staging', 'warehouse', 'feed'] as const;
export type PiiZone = (typeof PII_ZONES)[number];

/**
 * The zone whose records each zone is made from: silver from the source topics (original
 * values); the staging zone, the warehouse and the feed (through `metrics.*`) from silver.
 */
export const ZONE_READS: Readonly<Record<PiiZone, PiiZone | null>> = {
  silver: null,
  staging: 'silver',
  warehouse: 'silver',
  feed: 'silver',
};

/** What a zone's operator does: a policy to apply, or `pass` (its input is already masked so). */
export type PiiAction = PiiPolicy | 'pass';

export type PiiPolicies = Readonly<Record<PiiZone, PiiPolicy>>;

/** Masked by default, hashed so that joins across zones still work. */
export const DEFAULT_PII_POLICIES: PiiPolicies = { silver: 'hash', staging: 'hash', warehouse: 'hash', feed: 'hash' };

/**
 * How a zone that reads `upstream`'s values reaches its own policy, or undefined when it cannot:
 * the same policy passes the values on (hashing a hash would break joins with the zone it reads);
 * an original value (`keep`) takes any policy; anything takes `redact`. Nothing else: a zone
 * cannot reveal more than what it reads (hash → keep), and hash and truncate do not convert
 * into each other (a truncated hash or the hash of a truncated value joins with nothing).
 *
 * @example composeAction('hash', 'redact') // 'redact'; composeAction('hash', 'keep') // undefined
 */
export function composeAction(upstream: PiiPolicy, own: PiiPolicy): PiiAction | undefined {
  if (own === upstream) return upstream === 'keep' ? 'keep' : 'pass';
  if (upstream === 'keep' || own === 'redact') return own;
  return undefined;
}

/**
 * Each zone's action under `policies`, or one PII_POLICY_CONFLICT naming every zone that would
 * have to reveal more than the zone it reads (e.g. silver=hash, warehouse=keep).
 *
 * @example zoneActions({ ...DEFAULT_PII_POLICIES, warehouse: 'redact' }).warehouse // 'redact'
 */
export function zoneActions(policies: PiiPolicies): Record<PiiZone, PiiAction> {
  const problems: string[] = [];
  const actions = {} as Record<PiiZone, PiiAction>;
  for (const zone of PII_ZONES) {
    const upstream = ZONE_READS[zone];
    const action = upstream === null ? policies[zone] : composeAction(policies[upstream], policies[zone]);
    if (action !== undefined) actions[zone] = action;
    else
      problems.push(
        `${piiSettingOf(zone)}=${policies[zone]} cannot follow ${piiSettingOf(upstream!)}=${policies[upstream!]}: ` +
          `the ${zone} zone reads silver's values and can only keep them as they are or redact them`,
      );
  }
  if (problems.length)
    throw new SluiceError('PII_POLICY_CONFLICT', `impossible PII policies:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  return actions;
}

/** The variable that sets a zone's policy. */
export function piiSettingOf(zone: PiiZone): string {
  return `SLUICE_PII_${zone.toUpperCase()}`;
}
