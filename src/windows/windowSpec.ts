import type { Aggregation } from './aggregations.ts';
import type { TimeWindow, WindowKind } from './windowTypes.ts';

/** What a window aggregation computes and when it emits (see src/windows/windowOperator.ts). */
export interface WindowSpec<T, A, R> {
  /** State store name: the changelog topic is `sluice.<topology>.<store>.changelog`. */
  store: string;
  /** Output topic of the results (declared in the topology's outputs). */
  output: string;
  window: WindowKind;
  key(value: T): string;
  eventTime(value: T): number;
  aggregate: Aggregation<T, A>;
  result(key: string, window: TimeWindow, acc: A, meta: { final: boolean; emittedAt: number }): R;
  outOfOrdernessMs?: number;
  graceMs?: number;
  /** A partition with no records for this long stops holding the watermark back. */
  idleTimeoutMs?: number;
  /** Provisional results at most this often per window. */
  emitEveryMs?: number;
  /** The topic this window reads (its partitions are the state's partitions); default: any. */
  inputTopic?: string;
  /** Where late records go; default `<topology>.late`. */
  lateTopic?: string;
}
