import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OUTPUT_PATH, generateTypes } from '../../../scripts/generateTypes.ts';

test('src/domain/types.generated.ts matches the schemas (run `npm run gen:types` after changing schemas/)', () => {
  const committed = readFileSync(OUTPUT_PATH, 'utf8');
  assert.equal(
    committed,
    generateTypes(),
    'generated types drifted from schemas/*.avsc; regenerate with `npm run gen:types`',
  );
});

test('generated types cover every record and enum of the schemas', () => {
  const text = generateTypes();
  for (const name of [
    'Customer',
    'Product',
    'Order',
    'OrderItem',
    'ClickEvent',
    'RevenuePerMinute',
    'OrdersPerMinute',
    'Funnel5m',
    'ActiveSessions',
    'DlqPerMinute',
  ]) {
    assert.match(text, new RegExp(`export interface ${name} \\{`));
  }
  assert.match(
    text,
    new RegExp(
      'export type ClickEventType = "page_view" \\| "product_view" \\| "add_to_cart" \\| ' +
        '"remove_from_cart" \\| "checkout_started" \\| "purchase";',
    ),
  );
  assert.match(text, / {2}total_amount: string;/); // decimal → string
  assert.match(text, / {2}ordered_at: number;/); // timestamp-millis → number
  assert.match(text, / {2}session_id: string \| null;/); // nullable
  assert.match(text, /^\/\/ GENERATED FILE/);
});
