import { copyTextField, copyTextRow } from '../../../../connectors/postgres/copyText.ts';
import { nextId, syncIdentity } from '../../oltp/oltpIdentity.ts';
import type { Rng } from '../random.ts';
import { COUNTRY_SAMPLER, customerName, EMAIL_DOMAINS, emailFor } from './people.ts';
import { copyInto, DAY_MS, iso, type SeedRun } from './seedRun.ts';

const COLUMNS = ['customer_id', 'email', 'full_name', 'country', 'created_at'];

function* customerLines(r: Rng, first: number, count: number, run: SeedRun): Generator<string> {
  for (let i = 0; i < count; i++) {
    const id = first + i;
    const { first: fn, last: ln } = customerName(r);
    const country = COUNTRY_SAMPLER.sample(r);
    // Customers signed up before the order history starts, over the two years before it.
    const created = run.baseTime - (run.days + 1) * DAY_MS - Math.floor(r.next() * 700 * DAY_MS);
    const email = emailFor(fn, ln, id, r.pick(EMAIL_DOMAINS));
    yield copyTextRow([String(id), copyTextField(email), copyTextField(`${fn} ${ln}`), country, iso(created)]);
  }
}

/** Copies `count` customers with ids after the current maximum; returns how many. */
export async function seedCustomers(run: SeedRun, count: number): Promise<number> {
  const r = run.rng.fork('customers');
  const first = await nextId(run.client, 'customers', 'customer_id');
  const n = await copyInto(run, 'customers', COLUMNS, customerLines(r, first, count, run));
  await syncIdentity(run.client, 'customers', 'customer_id');
  return n;
}
