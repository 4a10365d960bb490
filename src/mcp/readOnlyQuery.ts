import type pg from 'pg';
import { SluiceError } from '../core/errors.ts';
import { limitedQuery } from './limitedQuery.ts';

/**
 * The one way `sluice mcp` runs SQL: defence in depth around a statement a model wrote.
 *
 * 1. The connection is the reader role's (SELECT on the gold schema only; read-only by default).
 * 2. `BEGIN READ ONLY`: Postgres refuses INSERT, UPDATE, DELETE, DDL, nextval() and the like.
 * 3. `statement_timeout` and `search_path` (the gold schema only) set for this transaction alone.
 * 4. The statement through the extended protocol: one statement, values bound as $1..$n.
 * 5. At most maxRows rows read (`limitedQuery`), the cut reported.
 * 6. Always ROLLBACK, then DISCARD ALL: nothing the statement did (a SET, an advisory lock, a
 *    prepared statement) outlives the call; a connection that cannot be reset is thrown away.
 *
 * A refusal is a SluiceError the tools report to the client (`MCP_QUERY_REFUSED`,
 * `MCP_QUERY_TIMEOUT`, `MCP_QUERY_FAILED`), never a crash of the server.
 */

export interface ReadOnlyResult {
  columns: { name: string; type: string }[];
  /** One object per row, keyed by column name (a repeated name gets `_2`, `_3`...). */
  rows: Record<string, unknown>[];
  rowCount: number;
  truncated: boolean;
  maxRows: number;
  command: string | null;
}

export interface ReadOnlyOptions {
  schema: string;
  timeoutMs: number;
  maxRows: number;
}

/** Runs one read-only statement; see the module comment. */
export async function readOnlyQuery(
  pool: pg.Pool,
  sql: string,
  params: unknown[],
  opts: ReadOnlyOptions,
): Promise<ReadOnlyResult> {
  const client = await pool.connect().catch((err: unknown) => {
    throw asQueryError(err);
  });
  let reusable = true;
  // A statement can end its own session (pg_terminate_backend(pg_backend_pid())): the error must
  // reach this call, not crash the process as an unhandled 'error' event of a checked-out client.
  const onError = () => {
    reusable = false;
  };
  client.on('error', onError);
  try {
    await client.query('begin transaction isolation level repeatable read, read only');
    await client.query(`select set_config('statement_timeout', $1, true), set_config('search_path', $2, true)`, [
      String(opts.timeoutMs),
      client.escapeIdentifier(opts.schema),
    ]);
    const result = await limitedQuery(client, sql, params, opts.maxRows);
    const columns = uniqueNames(result.fields.map((f) => f.name));
    return {
      columns: result.fields.map((f, i) => ({ name: columns[i], type: typeName(f.dataTypeID) })),
      rows: result.rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]]))),
      rowCount: result.rows.length,
      truncated: result.truncated,
      maxRows: opts.maxRows,
      command: result.command,
    };
  } catch (err) {
    throw asQueryError(err);
  } finally {
    try {
      await client.query('rollback');
      await client.query('discard all');
    } catch {
      reusable = false;
    }
    client.off('error', onError);
    client.release(!reusable);
  }
}

/** SQLSTATE classes that mean "not allowed" rather than "wrong": read-only, privileges, transaction state. */
function refused(code: string, message: string): boolean {
  return code.startsWith('25') || code === '42501' || (code === '42601' && /multiple commands/.test(message));
}

/** The catalogued error a failed statement is reported as, with the Postgres SQLSTATE. */
export function asQueryError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const e = err as Error & { code?: string };
  const sqlState = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const details = sqlState ? { sqlState } : {};
  if (sqlState === '57014')
    return new SluiceError('MCP_QUERY_TIMEOUT', `statement cancelled: ${e.message}`, { cause: err, details });
  if (sqlState === '28P01' || sqlState === '28000')
    return new SluiceError('PG_AUTH_FAILED', `the MCP reader role cannot log in: ${e.message}`, { cause: err });
  if (sqlState && refused(sqlState, e.message))
    return new SluiceError('MCP_QUERY_REFUSED', `refused: ${e.message}`, { cause: err, details });
  if (sqlState) return new SluiceError('MCP_QUERY_FAILED', e.message, { cause: err, details });
  if (/timeout/i.test(e.message))
    return new SluiceError('MCP_QUERY_TIMEOUT', `statement timed out: ${e.message}`, { cause: err });
  return new SluiceError('PG_UNREACHABLE', `the warehouse does not answer: ${e.message}`, { cause: err });
}

function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const count = (seen.get(n) ?? 0) + 1;
    seen.set(n, count);
    return count === 1 ? n : `${n}_${count}`;
  });
}

const TYPE_NAMES: Record<number, string> = {
  16: 'boolean',
  20: 'bigint',
  21: 'smallint',
  23: 'integer',
  25: 'text',
  26: 'oid',
  114: 'json',
  700: 'real',
  701: 'double precision',
  1042: 'character',
  1043: 'character varying',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamptz',
  1186: 'interval',
  1700: 'numeric',
  2950: 'uuid',
  3802: 'jsonb',
};

function typeName(oid: number): string {
  return TYPE_NAMES[oid] ?? `oid ${oid}`;
}
