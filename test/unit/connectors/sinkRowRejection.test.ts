import { test } from 'node:test';
import assert from 'node:assert/strict';
import { landOrDeadLetter } from '../../../connectors/postgres/warehouse/landOrDeadLetter.ts';
import { describeRowRejection, isRowRejectedSqlState } from '../../../connectors/postgres/warehouse/pgErrors.ts';

// ---- which Postgres errors blame a row

test('data exceptions and not-null/check violations blame the row; connection, concurrency and cross-row errors do not', () => {
  for (const code of ['22021', '22003', '22P02', '22P05', '22007', '22008', '22001', '23502', '23514'])
    assert.ok(isRowRejectedSqlState(code), code);
  for (const code of [
    '23505',
    '23503',
    '40001',
    '40P01',
    '08006',
    '53300',
    '57P01',
    '42P01',
    'ECONNRESET',
    '',
    undefined,
    22003,
  ])
    assert.ok(!isRowRejectedSqlState(code), String(code));
});

test('a rejection is described without the offending value, with the column the server names', () => {
  assert.deepEqual(
    describeRowRejection({
      code: '22P02',
      message: 'invalid input syntax for type numeric: "4\u00a0secret"',
      where: 'COPY sluice_stage_ab12, line 3, column total_amount: "4\u00a0secret"',
    }),
    { code: '22P02', message: 'invalid input syntax for type numeric: (value withheld) (column total_amount)' },
  );
  // A quoted value may span lines (COPY text escapes them, the server's message does not).
  assert.deepEqual(
    describeRowRejection({ code: '22007', message: 'invalid input syntax for type timestamp with time zone: "a\nb"' }),
    { code: '22007', message: 'invalid input syntax for type timestamp with time zone: (value withheld)' },
  );
  // Identifiers in quotes that do not end the message stay.
  assert.deepEqual(
    describeRowRejection({
      code: '23502',
      message: 'null value in column "status" of relation "orders" violates not-null constraint',
      column: 'status',
    }),
    {
      code: '23502',
      message: 'null value in column "status" of relation "orders" violates not-null constraint (column status)',
    },
  );
  assert.deepEqual(describeRowRejection({ code: '22003', message: 'numeric field overflow' }), {
    code: '22003',
    message: 'numeric field overflow',
  });
});

// ---- the isolation: bisection in order

/**
 * Runs landOrDeadLetter over items 0..n-1 where `bad` items make any part holding them fail and
 * `refused` items are refused before sending; checks the order invariant on every step.
 */
async function isolateItems(n: number, bad: Set<number>, refused = new Set<number>()) {
  const items = Array.from({ length: n }, (_, i) => i);
  const landed: number[] = [];
  const dead: { item: number; why: unknown }[] = [];
  let lands = 0;
  let settledThrough = -1; // every item up to here is landed or dead-lettered
  const inOrder = (first: number) =>
    assert.equal(
      first,
      settledThrough + 1,
      `a step starts at ${first}, right after everything settled (${settledThrough})`,
    );
  await landOrDeadLetter(items, {
    async land(part) {
      lands++;
      inOrder(part[0]);
      part.forEach((x, i) => assert.equal(x, part[0] + i, 'a part is contiguous'));
      const culprit = part.find((x) => bad.has(x));
      if (culprit !== undefined) throw Object.assign(new Error('numeric field overflow'), { code: '22003', culprit });
      landed.push(...part);
      settledThrough = part.at(-1)!;
    },
    async deadLetter(item, why) {
      inOrder(item);
      dead.push({ item, why });
      settledThrough = item;
    },
    isRejection: (err) => isRowRejectedSqlState((err as { code?: string }).code),
    refusedBefore: (item) => (refused.has(item) ? 'NUL' : undefined),
  });
  assert.deepEqual(
    landed,
    items.filter((x) => !bad.has(x) && !refused.has(x)),
    'every good item lands once, in order',
  );
  assert.deepEqual(
    dead.map((d) => d.item),
    items.filter((x) => bad.has(x) || refused.has(x)),
    'every bad item is dead-lettered once, in order',
  );
  for (const d of dead) {
    if (refused.has(d.item)) assert.equal(d.why, 'NUL');
    else
      assert.equal(
        (d.why as { culprit: number }).culprit,
        d.item,
        `item ${d.item} is dead-lettered for its own failure`,
      );
  }
  return { lands, landed, dead };
}

test('one bad row in a batch: isolated in at most 2·⌈log2 n⌉ + 1 transactions, wherever it sits', async () => {
  for (const n of [1, 2, 3, 500, 5000]) {
    const bound = 2 * Math.ceil(Math.log2(n)) + 1;
    let worst = 0;
    for (const at of new Set(
      [0, 1, Math.floor(n / 2) - 1, Math.floor(n / 2), n - 2, n - 1].filter((x) => x >= 0 && x < n),
    )) {
      const { lands } = await isolateItems(n, new Set([at]));
      assert.ok(lands <= bound, `n=${n}, bad at ${at}: ${lands} transactions, at most ${bound}`);
      worst = Math.max(worst, lands);
    }
    if (n >= 500)
      console.log(`# one bad row in ${n}: at most ${worst} transactions (bound ${bound}; row by row: ${n})`);
  }
});

test('several bad rows, neighbours among them, and a batch of nothing but bad rows', async () => {
  const { lands } = await isolateItems(500, new Set([83, 84, 250, 499]));
  assert.ok(lands <= 4 * (2 * Math.ceil(Math.log2(500)) + 1), `${lands} transactions`);
  const all = await isolateItems(8, new Set([0, 1, 2, 3, 4, 5, 6, 7]));
  assert.equal(all.dead.length, 8);
});

test('rows refused before sending are dead-lettered without a transaction; the runs between them are tried whole', async () => {
  const { lands } = await isolateItems(500, new Set(), new Set([16, 333, 499]));
  assert.equal(lands, 3, 'one transaction per run: 0–15, 17–332, 334–498');
});

test('a failure that does not blame the rows stops the isolation and is thrown', async () => {
  const lost = Object.assign(new Error('Connection terminated'), { code: '57P01' });
  let calls = 0;
  await assert.rejects(
    landOrDeadLetter([1, 2, 3, 4], {
      async land(part) {
        calls++;
        if (part.includes(3)) throw calls === 1 ? Object.assign(new Error('overflow'), { code: '22003' }) : lost;
      },
      async deadLetter() {
        assert.fail('nothing is dead-lettered');
      },
      isRejection: (err) => isRowRejectedSqlState((err as { code?: string }).code),
    }),
    lost,
  );
});
