/**
 * Check results and how they are shown: one line per check on the console as it is made, and a
 * markdown table with one column per guarantee for the README.
 */

export interface Check {
  /** 1–6: the section of the brief (input accounting, duplicates, windows, warehouse, S3, resume). */
  section: number;
  id: string;
  name: string;
  expected: string;
  actual: string;
  /** true / false; null for a figure that is reported, not judged. */
  pass: boolean | null;
  /** A failed required check fails the run (non-zero exit). */
  required: boolean;
  note?: string;
}

export const SECTIONS: Record<number, string> = {
  1: 'input = silver + DLQ, nothing lost',
  2: 'duplicates',
  3: 'window finals',
  4: 'warehouse',
  5: 'S3 lake',
  6: 'time to resume',
};

export function check(c: Omit<Check, 'pass' | 'required'> & { pass: boolean | null; required?: boolean }): Check {
  return { ...c, required: c.required ?? c.pass !== null };
}

export function mark(c: Check): string {
  if (c.pass === null) return 'ℹ';
  if (c.pass) return '✓';
  return c.required ? '✗' : '✗ (reported)';
}

export function formatCheckLine(c: Check): string {
  const expected = c.pass === false || c.pass === null ? ` (expected ${c.expected})` : '';
  const note = c.note ? ` — ${c.note}` : '';
  return `${mark(c).padEnd(2)} [${c.section}] ${c.name}: ${c.actual}${expected}${note}`;
}

export function failedRequired(checks: Check[]): Check[] {
  return checks.filter((c) => c.required && c.pass === false);
}

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** One row per check id, one column per guarantee: `actual mark`. */
export function markdownTable(runs: { guarantee: string; checks: Check[] }[]): string {
  const ids: { id: string; section: number; name: string; expected: string }[] = [];
  for (const r of runs)
    for (const c of r.checks)
      if (!ids.some((x) => x.id === c.id))
        ids.push({ id: c.id, section: c.section, name: c.name, expected: c.expected });
  ids.sort((a, b) => a.section - b.section);
  const head = `| check | expected | ${runs.map((r) => r.guarantee).join(' | ')} |`;
  const sep = `|---|---|${runs.map(() => '---').join('|')}|`;
  const rows = ids.map((x) => {
    const found = runs.map((r) => r.checks.find((y) => y.id === x.id));
    // Ground truth that depends on the run (the shop's activity follows the wall clock) goes in each cell.
    const same = new Set(found.filter(Boolean).map((c) => c!.expected)).size <= 1;
    const cols = found.map((c) =>
      c ? `${cell(c.actual)}${same ? '' : ` (expected ${cell(c.expected)})`} ${mark(c)}` : '-',
    );
    return `| ${x.section}. ${cell(x.name)} | ${same ? cell(x.expected) : 'see cells'} | ${cols.join(' | ')} |`;
  });
  return [head, sep, ...rows].join('\n');
}
