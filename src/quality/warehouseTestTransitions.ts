import type { WarehouseTestResult, WarehouseTestStatus } from './runWarehouseTests.ts';

/**
 * What changed between two runs of the warehouse tests, so the schedule logs a test once when it
 * starts failing and once when it recovers, not on every run while it stays so. A test is
 * presumed passing before its first run: one that fails at start-up is news, one that passes is not.
 */

export type WarehouseTestTransition =
  /** Now warn, fail or error, and was not in that status in the run before. */
  | { kind: 'failing'; from: WarehouseTestStatus; result: WarehouseTestResult }
  /** Passes again after any other status. */
  | { kind: 'recovered'; from: WarehouseTestStatus; result: WarehouseTestResult };

export interface WarehouseTestTransitions {
  /** Records a completed run and returns its transitions, in the order of `results`. */
  next(results: readonly WarehouseTestResult[]): WarehouseTestTransition[];
}

/**
 * A tracker holding each test's last status.
 *
 * @example
 *   const transitions = warehouseTestTransitions();
 *   for (const t of transitions.next(results)) log.warn({ test: t.result.name }, t.kind);
 */
export function warehouseTestTransitions(): WarehouseTestTransitions {
  const last = new Map<string, WarehouseTestStatus>();
  return {
    next(results) {
      const changes: WarehouseTestTransition[] = [];
      for (const result of results) {
        const from = last.get(result.name) ?? 'pass';
        last.set(result.name, result.status);
        if (from === result.status) continue;
        changes.push(
          result.status === 'pass' ? { kind: 'recovered', from, result } : { kind: 'failing', from, result },
        );
      }
      return changes;
    },
  };
}
