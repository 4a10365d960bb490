import { decodeForDisplay, type UndecodableValue } from '../admin/decodeForDisplay.ts';
import { maskForDisplay } from '../admin/maskForDisplay.ts';
import type { RawRecord } from '../admin/readTopicRange.ts';
import type { McpDeps } from './mcpDeps.ts';

/**
 * A record's value as `sluice inspect` shows it by default: Avro decoded through the registry,
 * undecodable bytes described safely, and the fields its writer schema marks `sluice.pii` as
 * `[redacted]` — what a model is shown is what an operator without `--show-pii` sees. Undecodable
 * bytes are described, not shown: unlike a person at `inspect`, a model may pass them on.
 */
export async function decodeMasked(
  deps: Pick<McpDeps, 'serde' | 'piiMarksOf'>,
  r: RawRecord,
): Promise<{ value: unknown; schemaId?: number; piiMasked: string[] }> {
  const decoded = await decodeForDisplay(deps.serde, r.value, r);
  const undecodable = (decoded.value as { undecodable?: boolean } | null)?.undecodable === true;
  if (undecodable) {
    // The bytes of a value that cannot be decoded may hold anything, marked or not: only what went wrong.
    const { error, message, bytes } = decoded.value as UndecodableValue;
    return { value: { undecodable: true, error, message, bytes }, piiMasked: [] };
  }
  if (decoded.schemaId === undefined) return { ...decoded, piiMasked: [] };
  const { value, masked } = maskForDisplay(decoded.value, await deps.piiMarksOf(decoded.schemaId));
  return { value, schemaId: decoded.schemaId, piiMasked: masked };
}
