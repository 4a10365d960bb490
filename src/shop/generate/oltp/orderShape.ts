import type { OrderStatus } from '../../oltp/oltpDdl.ts';
import { type Rng, WeightedSampler } from '../random.ts';

/** The shape of an order: how many items, how many of each, and where it is in its lifecycle. */

const HOUR_MS = 3_600_000;

/** Items per order. */
export const ITEM_COUNTS = new WeightedSampler([1, 2, 3, 4, 5, 6], [45, 25, 14, 8, 5, 3]);
/** Quantity per item. */
export const QUANTITIES = new WeightedSampler([1, 2, 3, 4], [75, 17, 6, 2]);

/**
 * Status of an order placed `ageMs` before now, following the lifecycle
 * pending → paid → shipped → delivered, with cancellations and refunds.
 */
export function lifecycleStatus(rng: Rng, ageMs: number): OrderStatus {
  const h = ageMs / HOUR_MS;
  if (h > 0.5 && rng.chance(0.04)) return 'cancelled';
  if (h > 72 && rng.chance(0.025)) return 'refunded';
  if (h < 2) return rng.chance(0.6) ? 'pending' : 'paid';
  if (h < 24) return rng.weighted(['pending', 'paid', 'shipped'] as const, [8, 62, 30]);
  if (h < 96) return rng.weighted(['paid', 'shipped', 'delivered'] as const, [5, 45, 50]);
  return rng.chance(0.97) ? 'delivered' : 'shipped';
}
