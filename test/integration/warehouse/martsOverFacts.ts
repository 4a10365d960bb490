import assert from 'node:assert/strict';
import type pg from 'pg';

/**
 * The marts as plain SQL over the facts, written independently of the sink's maintenance SQL
 * (`src/shop/warehouseMarts.ts`): a line's amount is quantity × unit_price here, the day comes from
 * `ordered_at` (not `date_key`), and everything is recomputed from scratch. Values as text, so that
 * numeric and timestamp formatting cannot hide a difference.
 */

const COUNTED = `o.status not in ('cancelled', 'refunded')`;

function expectedSql(gold: string): Record<string, { expected: string; actual: string }> {
  const g = (t: string) => `"${gold}"."${t}"`;
  return {
    mart_revenue_daily: {
      expected: `select (o.ordered_at at time zone 'UTC')::date::text as d, coalesce(p.category, 'unknown') as c,
          sum(i.quantity * i.unit_price)::numeric(14,2)::text as revenue, count(distinct o.order_id)::text as orders,
          round(sum(i.quantity * i.unit_price) / count(distinct o.order_id), 2)::numeric(14,2)::text as aov
        from ${g('fact_order_items')} i join ${g('fact_orders')} o on o.order_id = i.order_id
        left join ${g('dim_products')} p on p.product_key = i.product_key
        where ${COUNTED} group by 1, 2 order by 1, 2`,
      actual: `select order_date::text as d, category as c, revenue::text, orders::text, avg_order_value::text as aov
        from ${g('mart_revenue_daily')} order by 1, 2`,
    },
    mart_customers: {
      expected: `select o.customer_key::text as k, min(o.ordered_at)::text as first, max(o.ordered_at)::text as last,
          count(*)::text as orders, sum(o.total_amount)::numeric(14,2)::text as ltv,
          to_char(min(o.ordered_at) at time zone 'UTC', 'YYYY-MM-01') as cohort
        from ${g('fact_orders')} o where ${COUNTED} group by o.customer_key order by o.customer_key`,
      actual: `select customer_key::text as k, first_order_at::text as first, last_order_at::text as last,
          orders::text, lifetime_value::text as ltv, cohort_month::text as cohort
        from ${g('mart_customers')} order by customer_key`,
    },
    mart_products: {
      expected: `select k, units, revenue::numeric(14,2)::text as revenue,
          (rank() over (order by revenue desc))::text as rnk
        from (select i.product_key::text as k, sum(i.quantity)::text as units, sum(i.quantity * i.unit_price) as revenue
                from ${g('fact_order_items')} i join ${g('fact_orders')} o on o.order_id = i.order_id
               where ${COUNTED} group by i.product_key) x
        order by k::bigint`,
      actual: `select product_key::text as k, units::text, revenue::text, revenue_rank::text as rnk
        from ${g('mart_products')} order by product_key`,
    },
  };
}

/** Every mart equals its SQL over the facts; returns the row count of each mart. */
export async function assertMartsMatchFacts(client: pg.ClientBase, gold: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [mart, q] of Object.entries(expectedSql(gold))) {
    const expected = (await client.query(q.expected)).rows;
    const actual = (await client.query(q.actual)).rows;
    assert.deepEqual(actual, expected, `${mart} equals SQL over the facts`);
    counts[mart] = actual.length;
  }
  return counts;
}
