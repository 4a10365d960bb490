import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { isSluiceError, SluiceError } from '../../../src/core/errors.ts';
import type { Output, SourceRecord } from '../../../src/topology/types.ts';
import { COPY_NULL, copyTextField } from '../copyText.ts';
import { copyValue, isoOfMillis } from './copyValue.ts';
import type { Member } from './member.ts';

/**
 * The COPY writer: a member's rows, as COPY text lines in the column order of `copySql` (data
 * columns, then lineage, and for a staging table valid_from and the arrival order), streamed in
 * large chunks.
 */

/**
 * COPYs `rows` into the member's staging table through `client` (in its open transaction) and
 * returns the bytes sent. A row whose values cannot be written rejects with SINK_RECORD_REJECTED.
 *
 * @example const bytes = await copyRows(client, member, freshRows);
 */
export async function copyRows(client: pg.PoolClient, m: Member, rows: Output[]): Promise<number> {
  let bytes = 0;
  const chunkChars = m.cfg.copyChunkBytes;
  // pg-copy-streams is slow with many tiny writes: lines are gathered into chunks.
  function* chunks(): Generator<string> {
    let buf = '';
    for (let i = 0; i < rows.length; i++) {
      buf += stagedLine(m, rows[i], i);
      if (buf.length >= chunkChars) {
        bytes += Buffer.byteLength(buf);
        yield buf;
        buf = '';
      }
    }
    if (buf) {
      bytes += Buffer.byteLength(buf);
      yield buf;
    }
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom(m.sql!.copy)));
  return bytes;
}

/**
 * One staging row in COPY text: data columns, `_topic`, `_partition`, `_offset`, `_key`,
 * `_timestamp`, `_valid_from`, `_deleted` (`deleteWhen`), `_seq` (the row's place in the batch).
 */
function stagedLine(m: Member, o: Output, seq: number): string {
  const cols = m.plan!.columns;
  const v = (o.value ?? {}) as Record<string, unknown>;
  const s = o.source;
  // One string built field by field: an array and a join per row showed in the profile.
  let line = '';
  let at = '';
  // A value that cannot be written (an absurd timestamp, a JSON value that does not serialise)
  // is this row's fault: SINK_RECORD_REJECTED, so isolation dead-letters it. The message names
  // the column, never the value.
  try {
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i];
      at = c.name;
      line += `${copyValue(v[at], c.kind)}\t`;
    }
    const ts = o.timestamp ?? s?.timestamp;
    const validFrom = validFromOf(m, v, ts, s);
    at = '_timestamp';
    const key = o.key === null || o.key === undefined ? null : Buffer.isBuffer(o.key) ? o.key.toString('utf8') : o.key;
    line += `${copyTextField(s?.topic)}\t${copyTextField(s?.partition)}\t${copyTextField(s?.offset)}\t`;
    line += `${copyTextField(key)}\t`;
    line += typeof ts === 'number' ? isoOfMillis(ts) : COPY_NULL;
    // Append copies into the table itself, which has no merge helpers (see copySql).
    at = 'valid_from';
    if (m.plan!.mode !== 'append') {
      const del = m.cfg.deleteWhen;
      const deleted = del !== undefined && v[del.field] === del.equals;
      line += `\t${copyValue(validFrom, 'timestamptz')}\t${deleted ? 't' : 'f'}\t${seq}`;
    }
  } catch (err) {
    if (isSluiceError(err)) throw err;
    const what = err instanceof RangeError ? 'value out of range' : 'value cannot be written as COPY text';
    throw new SluiceError('SINK_RECORD_REJECTED', `warehouse sink ${m.name}: column ${at}: ${what}`, {
      cause: err,
      coordinates: coordinatesOf(s),
    });
  }
  return `${line}\n`;
}

/** scd2: the version's start (the ordering field, else the record timestamp), an epoch-ms number; null otherwise. */
function validFromOf(
  m: Member,
  v: Record<string, unknown>,
  ts: number | undefined,
  source: SourceRecord | undefined,
): unknown {
  if (m.plan!.mode !== 'scd2') return null;
  const ordering = m.cfg.orderingColumn;
  const validFrom = ordering ? v[ordering] : ts;
  if (typeof validFrom !== 'number') {
    throw new SluiceError(
      'SINK_RECORD_REJECTED',
      `warehouse sink ${m.name}: ${ordering || 'the record timestamp'} is not an epoch-ms number; it gives valid_from`,
      { coordinates: coordinatesOf(source) },
    );
  }
  return validFrom;
}

/** Where a row came from, for its error (built only when there is one). */
function coordinatesOf(s: SourceRecord | undefined): { topic: string; partition: number; offset: string } | undefined {
  return s && { topic: s.topic, partition: s.partition, offset: s.offset };
}
