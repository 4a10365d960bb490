import { defineTopology } from '../src/topology/defineTopology.ts';
import { notNull, regex } from '../src/topology/rules.ts';
import type { Customer } from '../src/domain/types.generated.ts';

/**
 * OLTP customers → silver.customers: a customer without a usable email is quarantined; email and
 * name reach silver masked by SLUICE_PII_SILVER (the rules see the original values).
 */
export default defineTopology({
  name: 'customers',
  owner: { team: 'commerce-data' },
  description: 'Validated customer row images; also the reference table for orders',
  sources: [{ topic: 'oltp.customers' }],
  rules: [
    notNull('customer_email_present', 'email'),
    regex('customer_email_format', 'email', /^[^@\s]+@[^@\s]+\.[^@\s]+$/),
  ],
  outputs: [{ topic: 'silver.customers', schema: 'silver.customers' }],
  pipeline: ({ sources, ops }) =>
    ops.merge(
      sources['oltp.customers'].pipe(
        ops.decode<Customer>(),
        ops.validate(['customer_email_present', 'customer_email_format']),
        ops.maskPii('silver'),
        ops.keyBy((c: Customer) => String(c.customer_id)),
        ops.toTopic('silver.customers'),
      ),
    ),
});
