/**
 * "A warehouse load batch committed", for whoever in the process wants to follow loads without
 * holding the sink: `sluice run` nudges its scheduled warehouse tests with it (issue 14: tests
 * after each load batch, where cheap — the schedule coalesces nudges to one run per 30 s).
 * Listeners run synchronously after the commit and must not throw; one that does is dropped from
 * this call only, never from the sink's flush.
 *
 * @example
 *   const off = onWarehouseBatchCommitted(() => warehouseTests.requestRun());
 *   // on shutdown: off();
 */
const listeners = new Set<(tables: string[]) => void>();

export function onWarehouseBatchCommitted(listener: (tables: string[]) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Called by the sink once a flush committed rows into `tables`. */
export function warehouseBatchCommitted(tables: string[]): void {
  for (const l of listeners) {
    try {
      l(tables);
    } catch {
      // A listener's failure is its own business: the batch is durable either way.
    }
  }
}
