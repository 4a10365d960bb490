/** What an activity run did: the ground truth the data-quality checks are compared with. */
export interface ActivityCounts {
  /** Every change made: sum of `changes` (without order_items) and `bad`. */
  total: number;
  changes: {
    /** Well-formed new orders (bad new orders are counted under `bad` only). */
    new_orders: number;
    /** Item rows inserted, for good and bad orders. */
    order_items: number;
    status_transitions: number;
    new_customers: number;
    customer_updates: number;
    price_updates: number;
  };
  /** Rows the data-quality rules must catch; each is exactly one kind. */
  bad: {
    /** Orders with total_amount < 0. */
    negative_total: number;
    /** Orders whose status is not in ORDER_STATUSES. */
    unknown_status: number;
    /** Customers whose email became or was created NULL. */
    null_email: number;
    /** Orders whose customer_id does not exist in customers. */
    unknown_customer: number;
  };
  /** Attempted changes that found nothing to change (a concurrent writer got there first). */
  skipped: number;
  elapsedMs: number;
  aborted: boolean;
}

/** Counts before any change. */
export function emptyActivityCounts(): ActivityCounts {
  return {
    total: 0,
    changes: {
      new_orders: 0,
      order_items: 0,
      status_transitions: 0,
      new_customers: 0,
      customer_updates: 0,
      price_updates: 0,
    },
    bad: { negative_total: 0, unknown_status: 0, null_email: 0, unknown_customer: 0 },
    skipped: 0,
    elapsedMs: 0,
    aborted: false,
  };
}
