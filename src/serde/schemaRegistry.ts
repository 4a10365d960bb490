import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { withRetry } from '../core/retry.ts';
import { forSchema } from './logicalTypes.ts';

/**
 * Registry client: Confluent REST API (Confluent Schema Registry, Apicurio's ccompat, Karapace).
 * Schema ids resolve to avsc Types built by us (so decoding stays under our guards) and are cached
 * for the life of the process: ids are immutable, so a known id keeps decoding through an outage.
 */

export type Compatibility = Config['registryCompatibility'];

export interface RegistryClient {
  /** Sets the subject's compatibility level, then registers; returns the global schema id. */
  register(subject: string, schema: avro.Schema, opts?: { compatibility?: Compatibility }): Promise<number>;
  /** Writer type for an id; SERDE_UNKNOWN_SCHEMA when the registry does not know it. */
  typeForId(id: number): Promise<avro.Type>;
  latestId(subject: string): Promise<number>;
  compatibility(subject: string): Promise<string | undefined>;
  /** Deletes a subject (soft, then hard) — for tests and tooling. */
  deleteSubject(subject: string): Promise<void>;
  subjects(): Promise<string[]>;
}

const log = createLogger('registry');
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

class RegistryHttpError extends Error {
  readonly status: number;
  readonly errorCode?: number;
  constructor(status: number, body: { message?: string; error_code?: number }) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.errorCode = body.error_code;
  }
}

export function createRegistryClient(cfg: Config): RegistryClient {
  const base = cfg.registryUrl.replace(/\/+$/, '');
  const auth = cfg.registryUsername ? { username: cfg.registryUsername, password: cfg.registryPassword } : undefined;
  const lib = new SchemaRegistry({ host: base, auth, retry: { retries: 0 } });
  const types = new Map<number, avro.Type>();
  const inflight = new Map<number, Promise<avro.Type>>();

  async function http<T>(method: string, pathname: string, body?: unknown): Promise<T> {
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
  }

  // Outages (connection refused, 5xx, timeouts) are retried with backoff; 4xx answers are final.
  const retriable = (err: unknown) => !(err instanceof RegistryHttpError) || err.status >= 500;
  const call = <T>(what: string, fn: () => Promise<T>) =>
    withRetry(fn, {
      retries: 5,
      initialMs: 200,
      maxMs: 3000,
      retriable,
      onRetry: (err, attempt) =>
        log.warn(
          { code: 'SLUICE_ERR_REGISTRY_UNAVAILABLE', attempt, what, err: String((err as Error).message) },
          'registry request failed; retrying',
        ),
    }).catch((err) => {
      if (err instanceof SluiceError) throw err;
      if (err instanceof RegistryHttpError) {
        if (err.status === 409)
          throw new SluiceError('REGISTRY_INCOMPATIBLE', `${what}: ${err.message}`, { cause: err });
        throw new SluiceError('REGISTRY_REQUEST_FAILED', `${what}: HTTP ${err.status} ${err.message}`, {
          cause: err,
          details: { status: err.status, errorCode: err.errorCode },
        });
      }
      throw new SluiceError('REGISTRY_UNAVAILABLE', `${what}: ${(err as Error).message} (registry ${base})`, {
        cause: err,
      });
    });

  /**
   * Two runners registering the same subject at once: the registry can refuse the second with a
   * conflict (Apicurio: "a rule named 'COMPATIBILITY' already exists" while the first creates the
   * subject's config; or a version being written). A conflict that is real comes back on retry.
   */
  async function raceTolerant<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= 3 || !(err instanceof SluiceError && err.shortCode === 'REGISTRY_INCOMPATIBLE')) throw err;
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      }
    }
  }

  async function fetchType(id: number): Promise<avro.Type> {
    try {
      const res = await call(`schema id ${id}`, () =>
        http<{ schema: string; schemaType?: string }>('GET', `/schemas/ids/${id}`),
      );
      if (res.schemaType && res.schemaType !== 'AVRO')
        throw new SluiceError('SERDE_UNKNOWN_SCHEMA', `schema id ${id} is ${res.schemaType}, not Avro`);
      const type = forSchema(JSON.parse(res.schema));
      types.set(id, type);
      return type;
    } catch (err) {
      if (err instanceof SluiceError && err.shortCode === 'REGISTRY_REQUEST_FAILED' && err.details?.status === 404) {
        throw new SluiceError('SERDE_UNKNOWN_SCHEMA', `schema id ${id} is not in the registry`, {
          cause: err,
          details: { schemaId: id },
        });
      }
      throw err;
    } finally {
      inflight.delete(id);
    }
  }

  return {
    async register(subject, schema, opts = {}) {
      const compatibility = opts.compatibility ?? cfg.registryCompatibility;
      // Set the level ourselves first: the library's own first-time config call is not portable
      // across registries, but PUT /config/{subject} is accepted by Confluent and Apicurio alike.
      await raceTolerant(() =>
        call(`set compatibility of ${subject}`, () =>
          http('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility }),
        ),
      );
      const registerOnce = () =>
        call(`register ${subject}`, () =>
          lib
            .register(
              { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
              { subject, compatibility: compatibility as never },
            )
            .catch((err: { status?: number; message?: string }) => {
              throw err.status ? new RegistryHttpError(err.status, { message: err.message }) : err;
            }),
        );
      const { id } = await raceTolerant(registerOnce);
      types.set(id, forSchema(schema));
      return id;
    },
    typeForId(id) {
      const known = types.get(id);
      if (known) return Promise.resolve(known);
      let pending = inflight.get(id);
      if (!pending) {
        pending = fetchType(id);
        inflight.set(id, pending);
      }
      return pending;
    },
    async latestId(subject) {
      const res = await call(`latest of ${subject}`, () =>
        http<{ id: number }>('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`),
      );
      return res.id;
    },
    async compatibility(subject) {
      const res = await call(`config of ${subject}`, () =>
        http<{ compatibilityLevel?: string }>('GET', `/config/${encodeURIComponent(subject)}`),
      );
      return res.compatibilityLevel;
    },
    async deleteSubject(subject) {
      await call(`delete ${subject}`, () => http('DELETE', `/subjects/${encodeURIComponent(subject)}`)).catch(() => {});
      await call(`hard delete ${subject}`, () =>
        http('DELETE', `/subjects/${encodeURIComponent(subject)}?permanent=true`),
      ).catch(() => {});
    },
    subjects() {
      return call('list subjects', () => http<string[]>('GET', '/subjects'));
    },
  };
}
