import { IS_CONTROL, IS_TRANSACTIONAL, type RecordsBatch } from '@platformatic/kafka';

/** An aborted transaction listed by a read_committed fetch response. */
export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/**
 * The record batches of a read_committed fetch without those of aborted transactions, the way
 * the Java consumer filters them: a producer's transactional batches are dropped from the first
 * offset of its aborted transaction until its abort marker. Control batches are kept (their
 * offsets move the position; they are never handed to the application).
 *
 * @platformatic/kafka filters aborted records itself, but only a transaction whose abort marker is
 * in the same response: when the response is cut by its size limit between the aborted records
 * and their marker, it hands the aborted records over as if committed.
 *
 * @example
 *   const kept = dropAbortedBatches(partition.records ?? [], partition.abortedTransactions ?? []);
 */
export function dropAbortedBatches(batches: RecordsBatch[], aborted: AbortedTransaction[]): RecordsBatch[] {
  if (!aborted.length) return batches;
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  const kept: RecordsBatch[] = [];
  for (const batch of batches) {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (pending.length && pending[0].firstOffset <= last) abortedProducers.add(pending.shift()!.producerId);
    if (batch.attributes & IS_CONTROL) {
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
      kept.push(batch);
    } else if (!(batch.attributes & IS_TRANSACTIONAL && abortedProducers.has(batch.producerId))) kept.push(batch);
  }
  return kept;
}

/** A control batch holding an abort marker (control record type 0; commit is 1). */
function isAbortMarker(batch: RecordsBatch): boolean {
  const key = batch.records[0]?.key;
  return !!key && key.length >= 4 && key.readInt16BE(2) === 0;
}
