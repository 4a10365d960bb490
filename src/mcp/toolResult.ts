import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { isSluiceError } from '../core/errors.ts';

/**
 * How every Sluice tool answers: the structured result (checked against the tool's output schema
 * by the SDK) and the same JSON as text for clients that only show text; or, when it fails, a
 * tool error (`isError`) whose text starts with the stable error code and says what to do — the
 * model can read it and correct its call, and the server carries on.
 */

function jsonSafe(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return v;
}

/** A successful tool result. */
export function toolSuccess(structured: Record<string, unknown>): CallToolResult {
  const plain = JSON.parse(JSON.stringify(structured, jsonSafe)) as Record<string, unknown>;
  return { content: [{ type: 'text', text: JSON.stringify(plain, null, 2) }], structuredContent: plain };
}

/** A tool error: `SLUICE_ERR_<CODE>: message` and the hint, the code also in `_meta`. */
export function toolFailure(err: unknown): CallToolResult {
  if (isSluiceError(err)) {
    const sqlState = err.details?.sqlState;
    return {
      isError: true,
      content: [{ type: 'text', text: `${err.code}: ${err.message}\n→ ${err.hint}` }],
      _meta: { sluiceErrorCode: err.code, retriable: err.retriable, ...(sqlState ? { sqlState } : {}) },
    };
  }
  return {
    isError: true,
    content: [{ type: 'text', text: `SLUICE_ERR_INTERNAL: ${(err as Error)?.message ?? String(err)}` }],
    _meta: { sluiceErrorCode: 'SLUICE_ERR_INTERNAL', retriable: false },
  };
}

/** Runs a tool's work and turns its outcome into a result; a tool never throws at the SDK. */
export async function runTool(work: () => Promise<Record<string, unknown>>): Promise<CallToolResult> {
  try {
    return toolSuccess(await work());
  } catch (err) {
    return toolFailure(err);
  }
}
