/** Money as integer cents and as Postgres numeric text: no float arithmetic on amounts. */

/** Integer cents → "12.30" / "-0.05" (no float arithmetic on money). */
export function centsToDecimal(cents: number): string {
  const neg = cents < 0;
  const abs = Math.abs(Math.round(cents));
  const s = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  return neg ? `-${s}` : s;
}

/** "12.30" → 1230. */
export function decimalToCents(text: string): number {
  const m = /^(-)?(\d+)(?:\.(\d{1,2}))?/.exec(String(text).trim());
  if (!m) throw new RangeError(`not a money amount: ${text}`);
  const cents = Number(m[2]) * 100 + Number((m[3] ?? '0').padEnd(2, '0'));
  return m[1] ? -cents : cents;
}
