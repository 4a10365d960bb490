import pg from 'pg';

/**
 * One statement through the extended protocol (Parse, Bind, Describe, Execute with a row limit),
 * stopped after `maxRows + 1` rows: a `select *` over a large table costs what the limit allows,
 * not the table, and the extra row says the result was cut off. The statement text goes to Parse
 * as it is and the values to Bind, so values are never spliced into SQL, and Parse refuses a
 * second statement ("cannot insert multiple commands into a prepared statement").
 *
 * node-postgres reads such a portal to its end (it sends Execute again on PortalSuspended); this
 * subclass sends Sync instead, which ends the portal, and then the result is complete. It relies
 * on the `pg.Query` hooks `pg-cursor` uses (handlePortalSuspended, handleError, handleCommandComplete).
 */

/** The rows a limited statement returned, as Postgres text except for the JSON-safe types. */
export interface LimitedResult {
  fields: { name: string; dataTypeID: number }[];
  rows: unknown[][];
  /** Rows beyond the limit existed (and were not read). */
  truncated: boolean;
  /** The command tag (SELECT, SHOW, ...). */
  command: string | null;
}

interface Wire {
  sync(): void;
}

// Numbers, booleans and JSON come typed; everything else (numeric, bigint, dates, timestamps) as
// Postgres prints it: exact, and free of the local time zone node-postgres would apply to dates.
const TYPED = new Set([16, 21, 23, 26, 114, 700, 701, 3802]);
const TYPES = {
  getTypeParser: (oid: number, format?: string) =>
    TYPED.has(oid) ? pg.types.getTypeParser(oid, format as 'text') : (v: string) => v,
};

class LimitedQuery extends pg.Query {
  truncated = false;
  #synced = false;

  handlePortalSuspended(connection: Wire): void {
    this.truncated = true;
    this.#synced = true;
    connection.sync();
  }

  handleCommandComplete(msg: unknown, connection: Wire): void {
    this.#synced = true;
    (pg.Query.prototype as unknown as { handleCommandComplete(m: unknown, c: Wire): void }).handleCommandComplete.call(
      this,
      msg,
      connection,
    );
  }

  handleEmptyQuery(connection: Wire): void {
    this.#synced = true;
    connection.sync();
  }

  handleError(err: Error, connection: Wire): void {
    // With a row limit no Sync was pipelined: without one the server ignores everything after the error.
    if (!this.#synced) {
      this.#synced = true;
      connection.sync();
    }
    (pg.Query.prototype as unknown as { handleError(e: Error, c: Wire): void }).handleError.call(this, err, connection);
  }
}

/**
 * Runs `text` with `values` on `client`, reading at most `maxRows` rows.
 *
 * @example
 *   const r = await limitedQuery(client, 'select * from mart_revenue_daily where order_date = $1', ['2026-05-01'], 9);
 */
export function limitedQuery(
  client: pg.ClientBase,
  text: string,
  values: unknown[],
  maxRows: number,
): Promise<LimitedResult> {
  return new Promise((resolve, reject) => {
    const query = new LimitedQuery({
      text,
      values,
      rows: maxRows + 1,
      rowMode: 'array',
      types: TYPES,
      queryMode: 'extended',
    } as pg.QueryConfig);
    const done = (err: Error | undefined, result: pg.QueryArrayResult | undefined) => {
      if (err || !result) return reject(err ?? new Error('no result'));
      resolve({
        fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
        rows: result.rows.slice(0, maxRows),
        truncated: query.truncated || result.rows.length > maxRows,
        command: result.command ?? null,
      });
    };
    (query as unknown as { callback: typeof done }).callback = done;
    client.query(query);
  });
}
