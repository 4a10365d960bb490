/**
 * Postgres COPY text format (`COPY ... FROM STDIN`, the default format): one row per line,
 * fields separated by tabs, `\N` for null, and backslash, tab, newline and carriage return
 * escaped. Shared by the warehouse sink and the OLTP generator, so both write rows one way.
 */

/** The null marker of COPY text format. */
export const COPY_NULL = '\\N';

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Escapes a string for COPY text format: backslash, tab, newline and carriage return. */
export function escapeCopyText(s: string): string {
  // Fast path: most values need no escaping.
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (c) => COPY_ESCAPES[c]) : s;
}

/**
 * One plain field: `\N` for null, undefined and non-finite numbers; `t`/`f` for booleans;
 * numbers and bigints as written; strings escaped.
 *
 * @example copyTextField('a\tb') // 'a\\tb'
 */
export function copyTextField(v: string | number | bigint | boolean | null | undefined): string {
  if (v === null || v === undefined) return COPY_NULL;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : COPY_NULL;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return escapeCopyText(v);
}

/** One row from fields already in COPY text format: tab-separated, newline-terminated. */
export function copyTextRow(fields: readonly string[]): string {
  return `${fields.join('\t')}\n`;
}
