import { defineTopology } from '../src/topology/defineTopology.ts';
import { notNull, range } from '../src/topology/rules.ts';
import type { Product } from '../src/domain/types.generated.ts';

/** OLTP products → silver.products. */
export default defineTopology({
  name: 'products',
  owner: { team: 'commerce-data' },
  description: 'Validated product row images; also the reference table for order items and clicks',
  sources: [{ topic: 'oltp.products' }],
  rules: [range('product_price_non_negative', 'price', { min: 0 }), notNull('product_category_present', 'category')],
  outputs: [{ topic: 'silver.products', schema: 'silver.products' }],
  pipeline: ({ sources, ops }) =>
    sources['oltp.products'].pipe(
      ops.decode<Product>(),
      ops.validate(['product_price_non_negative', 'product_category_present']),
      ops.keyBy((p: Product) => String(p.product_id)),
      ops.toTopic('silver.products'),
    ),
});
