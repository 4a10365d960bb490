import type pg from 'pg';
import type { Output, SinkRecordError } from '../../../src/topology/types.ts';
import { accountCommitted, failRows, releaseRows } from './batchOutcome.ts';
import type { TableResult } from './flushTransaction.ts';
import { tableThatFailed } from './flushTransaction.ts';
import { type DeadLetter, handOverDeadLetter } from './handOverDeadLetter.ts';
import { landOrDeadLetter } from './landOrDeadLetter.ts';
import type { Cut, Member } from './member.ts';
import { describeRowRejection, isRowRejection } from './pgErrors.ts';
import { cutOf, firstRefusal, type Unit, unitsOf } from './recordUnits.ts';
import { isRefusedBeforeSending } from './refusedBeforeSending.ts';
import { positionKey, readStoredPositions } from './storedOffsets.ts';
import { warehouseLog as log } from './warehouseLog.ts';

/** What isolation needs from the writer. */
export interface IsolationHost {
  /** One flush transaction of `cut` that also stores the offsets of `advance`, retried as any flush. */
  landOnce(cut: Cut, advance: Unit[], isolating: boolean): Promise<TableResult[]>;
  /** A read-only query through the writer's pool. */
  query<R extends pg.QueryResultRow>(sql: string, args: unknown[]): Promise<pg.QueryResult<R>>;
  /** The names of the writer's sinks (for log lines). */
  sinkNames(): string[];
}

/**
 * A batch holding rows the tables refuse (isRowRejection): everything else lands, those rows
 * are dead-lettered (Kafka Connect's errors.tolerance=all), by `landOrDeadLetter`.
 *
 * The unit is a source record: its rows in every table of the group land or are dead-lettered
 * together (one dead letter; no table of a group holds a record another lacks). Units are
 * sorted by partition and offset; each part is tried in its own transaction — COPY, merge and
 * offsets, as any batch, so exactly-once holds.
 *
 * Offsets: parts are settled strictly in offset order, so when one commits every record before
 * it is landed or dead-lettered, and the offsets it stores (the greatest of its rows and of the
 * dead letters before it) never pass a record that is neither; `greatest()` keeps them from
 * moving back. A dead letter is waited for until it is durable before any later commit stores
 * an offset past it (a crash in between would lose the record); its offsets ride with the next
 * commit, or with an offsets-only transaction at the end, so a restart does not send it again.
 *
 * @example await isolateRejectedRows(writer, cut, ctx.deadLetter, refusedBeforeSending(cut), err);
 */
export async function isolateRejectedRows(
  host: IsolationHost,
  cut: Cut,
  deadLetter: DeadLetter,
  refused: Map<Output, SinkRecordError>,
  failure: unknown,
): Promise<void> {
  await new Isolation(host, cut, deadLetter, refused).run(failure);
}

/** One isolation of one batch: its units, which are settled, and the dead letters whose offsets wait. */
class Isolation {
  private readonly members: Member[];
  private readonly units: Unit[];
  private readonly handled = new Set<Unit>();
  /** Dead-lettered (durably) records whose offsets are not stored yet. */
  private unstored: Unit[] = [];
  private readonly host: IsolationHost;
  private readonly deadLetter: DeadLetter;
  private readonly refused: Map<Output, SinkRecordError>;

  constructor(host: IsolationHost, cut: Cut, deadLetter: DeadLetter, refused: Map<Output, SinkRecordError>) {
    this.host = host;
    this.deadLetter = deadLetter;
    this.refused = refused;
    this.members = cut.map(([m]) => m);
    this.units = unitsOf(cut);
  }

  async run(failure: unknown): Promise<void> {
    for (const m of this.members) m.stats.isolations++;
    log.warn(
      {
        sinks: this.members.map((m) => m.name),
        records: this.units.length,
        refusedBeforeSending: this.refused.size,
        sqlState: failure === undefined ? undefined : describeRowRejection(failure).code,
      },
      'warehouse batch holds rows a table refuses; isolating them',
    );
    try {
      const replayed = await this.replayedRefusals();
      await landOrDeadLetter(
        this.units,
        {
          land: (part) => this.land(part),
          deadLetter: (u, why) => this.deadLetterUnit(u, isRefusedBeforeSending(why) ? why : this.rejection(why)),
          isRejection: isRowRejection,
          refusedBefore: (u) => {
            const why = firstRefusal(u, this.refused);
            return why && !replayed(u) ? why : undefined;
          },
        },
        failure,
      );
      if (this.unstored.length) await this.host.landOnce([], this.unstored, true);
    } catch (err) {
      // A failure that is not the rows' (or the runner refused a dead letter: SLUICE_SINK_ERRORS=fail):
      // what is neither landed nor dead-lettered fails, and the runner stops.
      failRows(
        cutOf(
          this.units.filter((u) => !this.handled.has(u)),
          this.members,
        ),
        err,
      );
    }
  }

  private async land(part: Unit[]): Promise<void> {
    const partCut = cutOf(part, this.members);
    const started = process.hrtime.bigint();
    const result = await this.host.landOnce(partCut, this.unstored, true);
    this.unstored = [];
    for (const u of part) this.handled.add(u);
    accountCommitted(partCut, result, started);
    releaseRows(partCut);
  }

  private async deadLetterUnit(u: Unit, why: SinkRecordError): Promise<void> {
    await handOverDeadLetter(this.deadLetter, [...u.rows.values()].flat(), why);
    this.handled.add(u);
    this.unstored.push(u);
    for (const [m, rows] of u.rows) m.stats.deadLettered += rows.length;
  }

  private rejection(err: unknown): SinkRecordError {
    return { sink: tableThatFailed(err) ?? this.members[0].name, ...describeRowRejection(err) };
  }

  /**
   * A refused record the tables already have offsets past is a replay: the run that stored them
   * dead-lettered it. It goes with the others, and the flush skips it as any replay.
   */
  private async replayedRefusals(): Promise<(u: Unit) => boolean> {
    const stored = this.refused.size
      ? await this.storedPositions(this.units.filter((u) => firstRefusal(u, this.refused)))
      : undefined;
    return (u) =>
      !!u.source &&
      [...u.rows.keys()].every(
        (m) =>
          BigInt(u.source!.offset) < (stored?.get(positionKey(m.name, u.source!.topic, u.source!.partition)) ?? 0n),
      );
  }

  /**
   * The stored next offsets of the units' (sink, topic, partition) positions, read without a
   * lock: they only grow, so a stale one at worst sends a dead letter twice (at least once).
   */
  private async storedPositions(units: Unit[]): Promise<Map<string, bigint>> {
    const positions = new Map<string, { sink: string; topic: string; partition: number }>();
    for (const u of units) {
      if (!u.source) continue;
      const { topic, partition } = u.source;
      for (const m of u.rows.keys())
        positions.set(positionKey(m.name, topic, partition), { sink: m.name, topic, partition });
    }
    try {
      return await readStoredPositions(this.host.query.bind(this.host), [...positions.values()]);
    } catch (err) {
      log.warn(
        { sinks: this.host.sinkNames(), err: (err as Error).message },
        'cannot read the stored offsets; refused records are dead-lettered even if replayed',
      );
      return new Map();
    }
  }
}
