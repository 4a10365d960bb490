/** What `landOrDeadLetter` does with a part of a batch or one of its records. */
export interface IsolationSteps<T> {
  /** Writes the part in one transaction (all or nothing); throws what failed. */
  land(part: T[]): Promise<void>;
  /** Dead-letters one item for `why` (its own failure, or its refusal); resolves once that is durable. */
  deadLetter(item: T, why: unknown): Promise<void>;
  /** Does the failure blame the rows? Anything else stops the isolation and is thrown. */
  isRejection(err: unknown): boolean;
  /** Why the item is refused without trying it (client-side checks), if it is. */
  refusedBefore?(item: T): unknown;
}

/**
 * Lands `items` (in order) with as few transactions as it can, dead-lettering the ones that
 * cannot land: the refused ones as they come, the rest by bisection. A run of items between
 * refused ones is tried whole; a part that fails is split in halves (left first); an item that
 * fails on its own is dead-lettered. When a part failed and its left half landed, the right half
 * holds the culprit and is split without being tried whole; a single item is always tried on its
 * own, so only its own failure dead-letters it. Per bad item: at most two transactions per
 * halving and ⌈log2 n⌉ halvings. `failure`: the whole list already failed with it.
 *
 * Everything happens strictly in order: when `land(part)` runs, every item before the part is
 * landed or dead-lettered, and no item after it is — what lets the warehouse store offsets.
 *
 * @example await landOrDeadLetter(units, { land, deadLetter, isRejection: isRowRejection }, firstFailure);
 */
export async function landOrDeadLetter<T>(items: T[], steps: IsolationSteps<T>, failure?: unknown): Promise<void> {
  let run: T[] = [];
  for (const item of items) {
    const why = steps.refusedBefore?.(item);
    if (why === undefined) {
      run.push(item);
      continue;
    }
    await settle(run, steps);
    run = [];
    await steps.deadLetter(item, why);
  }
  // The whole list's failure, when there is one, is this run's only if nothing was refused.
  await settle(run, steps, failure !== undefined && run.length === items.length ? failure : undefined);
}

/** Lands `part` or, when it fails (`failed`: it already did), bisects it. */
async function settle<T>(part: T[], steps: IsolationSteps<T>, failed?: unknown): Promise<void> {
  if (!part.length) return;
  if (failed === undefined) {
    try {
      await steps.land(part);
      return;
    } catch (err) {
      if (!steps.isRejection(err)) throw err;
      failed = err;
    }
  }
  if (part.length === 1) {
    await steps.deadLetter(part[0], failed);
    return;
  }
  const mid = part.length >>> 1;
  const left = part.slice(0, mid);
  const right = part.slice(mid);
  let leftLanded = true;
  try {
    await steps.land(left);
  } catch (err) {
    if (!steps.isRejection(err)) throw err;
    leftLanded = false;
    await settle(left, steps, err);
  }
  await settle(right, steps, leftLanded && right.length > 1 ? failed : undefined);
}
