/**
 * Quoting for the SQL text the warehouse writes (DDL, merges, comments): every name and every
 * comment goes through here, so a field called `order` or a doc with a quote cannot break a
 * statement.
 */

/**
 * A Postgres identifier, double-quoted (embedded quotes doubled).
 *
 * @example quoteIdent('order') // '"order"'
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A Postgres string literal (embedded single quotes doubled).
 *
 * @example sqlLiteral("it's") // "'it''s'"
 */
export function sqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** `"schema"."table"`, quoted. */
export function qualifiedName(t: { schema: string; table: string }): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
}
