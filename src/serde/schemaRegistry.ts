import type avro from 'avsc';
import { type Config, secretOf } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { callRegistry, retryConcurrentRegistration } from './callRegistry.ts';
import { forSchema } from './logicalTypes.ts';
import { registryHttp } from './registryHttp.ts';

/**
 * Registry client: Confluent REST API (Confluent Schema Registry, Apicurio's ccompat, Karapace).
 * Schema ids resolve to avsc Types built by us (so decoding stays under our guards) and are cached
 * for the life of the process: ids are immutable, so a known id keeps decoding through an outage.
 */

/** A subject's compatibility level. */
export type Compatibility = Config['registryCompatibility'];

/** What Sluice asks of a schema registry. */
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

/** What the request functions below share: the registry, its client, the id cache. */
interface Registry {
  http: ReturnType<typeof registryHttp>;
  call: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  types: Map<number, avro.Type>;
  inflight: Map<number, Promise<avro.Type>>;
}

/**
 * A client of the registry at `cfg.registryUrl`. Creating it does no I/O.
 *
 * @example
 *   const id = await createRegistryClient(cfg).register('web.clickstream-value', schema);
 */
export function createRegistryClient(cfg: Config): RegistryClient {
  const base = cfg.registryUrl.replace(/\/+$/, '');
  const auth = cfg.registryUsername
    ? { username: cfg.registryUsername, password: secretOf(cfg, 'registryPassword') }
    : undefined;
  const registry: Registry = {
    http: registryHttp(base, auth),
    call: (what, fn) => callRegistry(base, what, fn),
    types: new Map(),
    inflight: new Map(),
  };
  const { http, call } = registry;
  const subjectPath = (subject: string) => `/subjects/${encodeURIComponent(subject)}`;
  return {
    register: (subject, schema, opts = {}) =>
      register(registry, subject, schema, opts.compatibility ?? cfg.registryCompatibility),
    typeForId: (id) => typeForId(registry, id),
    async latestId(subject) {
      const res = await call(`latest of ${subject}`, () =>
        http<{ id: number }>('GET', `${subjectPath(subject)}/versions/latest`),
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
      await call(`delete ${subject}`, () => http('DELETE', subjectPath(subject))).catch(() => {});
      await call(`hard delete ${subject}`, () => http('DELETE', `${subjectPath(subject)}?permanent=true`)).catch(
        () => {},
      );
    },
    subjects() {
      return call('list subjects', () => http<string[]>('GET', '/subjects'));
    },
  };
}

async function register(
  { http, call, types }: Registry,
  subject: string,
  schema: avro.Schema,
  compatibility: Compatibility,
): Promise<number> {
  // Set the level ourselves first: the library's own first-time config call is not portable
  // across registries, but PUT /config/{subject} is accepted by Confluent and Apicurio alike.
  await retryConcurrentRegistration(() =>
    call(`set compatibility of ${subject}`, () =>
      http('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility }),
    ),
  );
  // POST /subjects/{subject}/versions answers the id of the schema, new or already registered
  // (Confluent's API; Apicurio's ccompat and Karapace alike); 409 is an incompatible change.
  const registerOnce = () =>
    call(`register ${subject}`, () =>
      http<{ id: number }>('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
        schemaType: 'AVRO',
        schema: JSON.stringify(schema),
      }),
    );
  const { id } = await retryConcurrentRegistration(registerOnce);
  types.set(id, forSchema(schema));
  return id;
}

/** The cached type of `id`, or one fetch of it shared by every caller asking meanwhile. */
function typeForId(registry: Registry, id: number): Promise<avro.Type> {
  const known = registry.types.get(id);
  if (known) return Promise.resolve(known);
  let pending = registry.inflight.get(id);
  if (!pending) {
    pending = fetchType(registry, id);
    registry.inflight.set(id, pending);
  }
  return pending;
}

async function fetchType({ http, call, types, inflight }: Registry, id: number): Promise<avro.Type> {
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
