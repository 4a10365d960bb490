import { copyTextField, copyTextRow } from '../../../../connectors/postgres/copyText.ts';
import { nextId, syncIdentity } from '../../oltp/oltpIdentity.ts';
import type { Rng } from '../random.ts';
import { ADJECTIVES, CATEGORY_SAMPLER, COLORS, priceCents } from './catalogue.ts';
import { centsToDecimal } from './money.ts';
import { copyInto, DAY_MS, iso, type SeedRun } from './seedRun.ts';

const COLUMNS = ['product_id', 'sku', 'name', 'category', 'price', 'active', 'created_at'];

function* productLines(r: Rng, first: number, count: number, run: SeedRun): Generator<string> {
  for (let i = 0; i < count; i++) {
    const id = first + i;
    const cat = CATEGORY_SAMPLER.sample(r);
    const name = `${r.pick(ADJECTIVES)} ${r.pick(cat.nouns)}${r.chance(0.5) ? ` ${r.pick(COLORS)}` : ''}`;
    const sku = `${cat.name.slice(0, 3).toUpperCase()}-${String(id).padStart(7, '0')}`;
    const created = run.baseTime - (run.days + 1) * DAY_MS - Math.floor(r.next() * 1000 * DAY_MS);
    // Drawn in this order (price, then active) so a seed gives the same catalogue as before.
    const price = centsToDecimal(priceCents(r, cat));
    const active = r.chance(0.96);
    yield copyTextRow([String(id), sku, copyTextField(name), cat.name, price, copyTextField(active), iso(created)]);
  }
}

/** Copies `count` products with ids after the current maximum; returns how many. */
export async function seedProducts(run: SeedRun, count: number): Promise<number> {
  const r = run.rng.fork('products');
  const first = await nextId(run.client, 'products', 'product_id');
  const n = await copyInto(run, 'products', COLUMNS, productLines(r, first, count, run));
  await syncIdentity(run.client, 'products', 'product_id');
  return n;
}
