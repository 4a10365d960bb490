import { defineTopology } from '../src/topology/defineTopology.ts';
import { notNull, range, references, uniqueWithin } from '../src/topology/rules.ts';
import type { ClickEvent } from '../src/domain/types.generated.ts';

/** Event times this far ahead of the clock are clock skew we tolerate; beyond it, the future. */
export const FUTURE_TOLERANCE_MS = 10 * 60_000;
export const DEDUPE_WINDOW_MS = 60 * 60_000;
export const MAX_PRICE = 100_000;

/** web.clickstream → silver.clickstream: deduplicated by event_id, sessions and products checked. */
export default defineTopology({
  name: 'clickstream',
  owner: { team: 'web-analytics' },
  description: 'Validated, deduplicated click events',
  sources: [{ topic: 'web.clickstream' }],
  references: { products: { topic: 'oltp.products', key: 'product_id' } },
  rules: [
    uniqueWithin('click_event_unique', 'event_id', DEDUPE_WINDOW_MS, { eventTime: 'event_time' }),
    notNull('click_session_present', 'session_id'),
    range('click_event_time_not_future', 'event_time', { max: (ctx) => ctx.now() + FUTURE_TOLERANCE_MS }),
    range('click_price_range', 'price', { min: 0, max: MAX_PRICE }),
    references('click_product_exists', 'product_id', 'products'),
  ],
  outputs: [{ topic: 'silver.clickstream', schema: 'silver.clickstream' }],
  pipeline: ({ sources, ops }) =>
    sources['web.clickstream'].pipe(
      ops.decode<ClickEvent>(),
      ops.validate([
        'click_session_present',
        'click_event_time_not_future',
        'click_price_range',
        'click_product_exists',
        'click_event_unique',
      ]),
      ops.maskPii('silver'),
      ops.keyBy((e: ClickEvent) => e.session_id),
      ops.toTopic('silver.clickstream'),
    ),
});
