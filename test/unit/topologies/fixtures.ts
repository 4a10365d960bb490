import type { ClickEvent, Customer, Order, OrderItem, Product } from '../../../src/domain/types.generated.ts';

export const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);

export const customer = (id: number, over: Partial<Customer> = {}): Customer =>
  ({
    customer_id: id,
    email: `c${id}@shop.test`,
    full_name: `Customer ${id}`,
    country: 'DE',
    created_at: T0,
    updated_at: T0,
    op: 'c',
    extracted_at: T0,
    ...over,
  }) as Customer;

export const product = (id: number, over: Partial<Product> = {}): Product =>
  ({
    product_id: id,
    sku: `SKU-${id}`,
    name: `Product ${id}`,
    category: 'books',
    price: '12.50',
    active: true,
    created_at: T0,
    updated_at: T0,
    op: 'c',
    extracted_at: T0,
    ...over,
  }) as Product;

export const order = (id: number, customerId: number, over: Partial<Order> = {}): Order =>
  ({
    order_id: id,
    customer_id: customerId,
    status: 'paid',
    total_amount: '25.00',
    currency: 'EUR',
    ordered_at: T0,
    updated_at: T0,
    op: 'c',
    extracted_at: T0,
    ...over,
  }) as Order;

export const item = (id: number, orderId: number, productId: number, over: Partial<OrderItem> = {}): OrderItem =>
  ({
    order_item_id: id,
    order_id: orderId,
    product_id: productId,
    quantity: 2,
    unit_price: '12.50',
    updated_at: T0,
    op: 'c',
    extracted_at: T0,
    ...over,
  }) as OrderItem;

export const click = (id: string, over: Partial<ClickEvent> = {}): ClickEvent =>
  ({
    event_id: id,
    event_type: 'product_view',
    session_id: 's1',
    customer_id: null,
    event_time: T0,
    page_url: '/p/1',
    product_id: 1,
    quantity: null,
    price: '12.50',
    order_id: null,
    user_agent: 'test',
    ...over,
  }) as ClickEvent;
