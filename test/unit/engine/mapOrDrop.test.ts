import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { DROP, mapOrDrop, mapToMany } from '../../../src/operators/mapOrDrop.ts';

test('mapOrDrop passes mapped values on, synchronously, and drops DROP', () => {
  const input = new Subject<number>();
  const seen: string[] = [];
  input.pipe(mapOrDrop((n: number) => (n % 2 ? `odd ${n}` : DROP))).subscribe((v) => seen.push(v));
  for (const n of [1, 2, 3, 4]) {
    input.next(n);
    // Synchronous: each value is through before next() returns (acks rely on it).
    assert.equal(seen.length, Math.ceil(n / 2));
  }
  assert.deepEqual(seen, ['odd 1', 'odd 3']);
});

test('mapOrDrop and mapToMany error the stream when the function throws, and complete with it', () => {
  const input = new Subject<number>();
  const events: string[] = [];
  input
    .pipe(
      mapOrDrop((n: number) => {
        if (n === 2) throw new Error('boom');
        return n;
      }),
    )
    .subscribe({ next: (v) => events.push(`next ${v}`), error: (e) => events.push(`error ${e.message}`) });
  input.next(1);
  input.next(2);
  input.next(3);
  assert.deepEqual(events, ['next 1', 'error boom']);

  const many = new Subject<number>();
  const out: number[] = [];
  let completed = false;
  many.pipe(mapToMany((n: number) => Array.from({ length: n }, () => n))).subscribe({
    next: (v) => out.push(v),
    complete: () => {
      completed = true;
    },
  });
  many.next(0);
  many.next(2);
  many.complete();
  assert.deepEqual(out, [2, 2]);
  assert.ok(completed);
});
