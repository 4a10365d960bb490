import type { IHeaders } from '../kafka/kafkaTypes.ts';

/**
 * Header values as UTF-8 strings (repeated headers joined with ", ").
 *
 * @example headersAsText(record.headers)['sluice.error.reason'] // 'rule'
 */
export function headersAsText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map((x) => x.toString()).join(', ') : v.toString();
  }
  return out;
}
