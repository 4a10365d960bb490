const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** A registry answer other than 2xx: its HTTP status and the registry's own error code. */
export class RegistryHttpError extends Error {
  readonly status: number;
  readonly errorCode?: number;
  constructor(status: number, body: { message?: string; error_code?: number }) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.errorCode = body.error_code;
  }
}

/** Basic-auth credentials of the registry. */
export interface RegistryAuth {
  username: string;
  password: string;
}

/**
 * A sender of single requests to the registry's REST API at `base`: JSON in and out, a 10 s
 * bound per request (a stalled registry must become an error the caller can retry), and any
 * non-2xx answer thrown as a RegistryHttpError. No retries here: see `callRegistry`.
 *
 * @example
 *   const http = registryHttp('http://localhost:8081');
 *   const subjects = await http<string[]>('GET', '/subjects');
 */
export function registryHttp(base: string, auth?: RegistryAuth) {
  return async function http<T>(method: string, pathname: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: CONTENT_TYPE, 'content-type': CONTENT_TYPE };
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    const res = await fetch(`${base}${pathname}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (!res.ok) throw new RegistryHttpError(res.status, parsed ?? {});
    return parsed as T;
  };
}
