import { defineTopology } from '../src/topology/defineTopology.ts';
import { inSet, range, references } from '../src/topology/rules.ts';
import type { Order, OrderItem } from '../src/domain/types.generated.ts';

export const ORDER_STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'] as const;

/**
 * OLTP orders and order items → silver.orders, silver.order_items. Referential rules read the
 * source topics as tables (GlobalKTable style): a row references what the shop has extracted.
 */
export default defineTopology({
  name: 'orders',
  owner: { team: 'commerce-data' },
  description: 'Orders and their items, checked against customers, products and each other',
  sources: [{ topic: 'oltp.orders' }, { topic: 'oltp.order_items' }],
  references: {
    customers: { topic: 'oltp.customers', key: 'customer_id' },
    products: { topic: 'oltp.products', key: 'product_id' },
    orders: { topic: 'oltp.orders', key: 'order_id' },
  },
  rules: [
    range('order_amount_non_negative', 'total_amount', { min: 0 }),
    inSet('order_status_known', 'status', ORDER_STATUSES),
    references('order_customer_exists', 'customer_id', 'customers'),
    range('item_quantity_positive', 'quantity', { min: 1 }),
    range('item_price_non_negative', 'unit_price', { min: 0 }),
    references('item_order_exists', 'order_id', 'orders'),
    references('item_product_exists', 'product_id', 'products'),
  ],
  outputs: [
    { topic: 'silver.orders', schema: 'silver.orders' },
    { topic: 'silver.order_items', schema: 'silver.order_items' },
  ],
  pipeline: ({ sources, ops }) =>
    ops.merge(
      sources['oltp.orders'].pipe(
        ops.decode<Order>(),
        ops.validate(['order_amount_non_negative', 'order_status_known', 'order_customer_exists']),
        ops.maskPii('silver'),
        ops.keyBy((o: Order) => String(o.order_id)),
        ops.toTopic('silver.orders'),
      ),
      sources['oltp.order_items'].pipe(
        ops.decode<OrderItem>(),
        ops.validate(['item_quantity_positive', 'item_price_non_negative', 'item_order_exists', 'item_product_exists']),
        ops.maskPii('silver'),
        ops.keyBy((i: OrderItem) => String(i.order_item_id)),
        ops.toTopic('silver.order_items'),
      ),
    ),
});
