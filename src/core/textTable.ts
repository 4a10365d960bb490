/**
 * Columns aligned for a terminal: each padded to its widest cell, two spaces between, the last
 * column left ragged (it holds the long free text).
 *
 * @example textTable(['TOPIC', 'PARTS'], [['web.clickstream', '3']])
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cols: readonly string[]) =>
    cols
      .map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}
