/**
 * The shop's OLTP tables and their primary keys. A leaf module (no imports), so the settings
 * table can validate table names without importing the DDL module, which imports the settings.
 */

/** The shop tables, parents before children. */
export const OLTP_TABLES = ['customers', 'products', 'orders', 'order_items'] as const;
export type OltpTable = (typeof OLTP_TABLES)[number];

/** Primary-key column of each table. */
export const OLTP_PRIMARY_KEYS: Record<OltpTable, string> = {
  customers: 'customer_id',
  products: 'product_id',
  orders: 'order_id',
  order_items: 'order_item_id',
};
