import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReferenceReader } from '../../../src/runner/referenceReader.ts';
import { ReferenceCatchUp } from '../../../src/runner/referenceTables.ts';

/** A reader that counts the catch-ups asked of it (each one a round trip to the broker in the real one). */
function countingReader(answer: () => Promise<boolean> = async () => true) {
  const reader = {
    asked: 0,
    ready: Promise.resolve(),
    catchUp: () => {
      reader.asked++;
      return answer();
    },
    stop: async () => {},
  };
  return reader satisfies ReferenceReader;
}

const where = (partition: number) => ({ topology: 't', topic: 'src', partition });

test('the batches of one fetch share one catch-up; a batch of a later fetch asks again', async () => {
  const reader = countingReader();
  const refs = new ReferenceCatchUp([reader], 1000);
  refs.fetched();
  await refs.beforeBatch(where(0));
  await refs.beforeBatch(where(1));
  await refs.beforeBatch(where(2));
  assert.equal(reader.asked, 1, 'three batches of one fetch response');
  refs.fetched();
  await refs.beforeBatch(where(0));
  assert.equal(reader.asked, 2, 'a fetch response after the catch-up was asked for needs a new one');
  await refs.beforeBatch(where(1));
  assert.equal(reader.asked, 2);
});

test('a batch waits for a catch-up asked for after its fetch, even one still under way', async () => {
  let release: (v: boolean) => void = () => {};
  const reader = countingReader(() => new Promise<boolean>((r) => (release = r)));
  const refs = new ReferenceCatchUp([reader], 1000);
  refs.fetched();
  let firstDone = false;
  const first = refs.beforeBatch(where(0)).then(() => (firstDone = true));
  const second = refs.beforeBatch(where(1));
  await new Promise((r) => setImmediate(r));
  assert.equal(firstDone, false, 'nothing passes before the table caught up');
  release(true);
  await Promise.all([first, second]);
  assert.equal(reader.asked, 1);
});

test('a failed catch-up is not reused', async () => {
  let fail = true;
  const reader = countingReader(async () => {
    if (fail) throw new Error('broker away');
    return true;
  });
  const refs = new ReferenceCatchUp([reader], 1000);
  refs.fetched();
  await assert.rejects(refs.beforeBatch(where(0)), /broker away/);
  fail = false;
  await refs.beforeBatch(where(0));
  assert.equal(reader.asked, 2);
});
