const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/**
 * SQL rendering a timestamp expression as ISO-8601 UTC with microseconds, the precision of
 * Postgres: positions must compare exactly with the column, which a JavaScript Date (ms) cannot.
 *
 * @example isoUtc('t.updated_at') // to_char((t.updated_at) at time zone 'UTC', ...)
 */
export function isoUtc(expr: string): string {
  return `to_char((${expr}) at time zone 'UTC', ${ISO_US})`;
}
