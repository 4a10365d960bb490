import type { ActivityCounts } from './activityCounts.ts';

/** The bad rows the activity slips in, one kind each, for the data-quality rules to catch. */

/** The kinds of bad row, as counted in `ActivityCounts.bad`. */
export type BadKind = keyof ActivityCounts['bad'];
export const BAD_KINDS: readonly BadKind[] = ['negative_total', 'unknown_status', 'null_email', 'unknown_customer'];

/** Status strings a buggy legacy writer produced; none is in ORDER_STATUSES. */
export const UNKNOWN_STATUSES = ['shiped', 'UNKNOWN', 'canceled', 'payed', 'Delivered', 'in_transit'] as const;

/** Orders whose customer does not exist point at ids from here up (identity never gets there). */
export const ORPHAN_CUSTOMER_BASE = 1_000_000_000_000;
