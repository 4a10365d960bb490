import type avro from 'avsc';
import { SluiceError } from '../core/errors.ts';
import { forSchema } from '../serde/logicalTypes.ts';
import type { RegistryClient } from '../serde/schemaRegistry.ts';

/**
 * An in-process schema registry for the topology test driver only (unit tests: no services).
 * Ids are assigned like a registry's: one per distinct schema, global across subjects.
 */
export function createMemoryRegistry(): RegistryClient {
  const byId = new Map<number, avro.Type>();
  const idByCanonical = new Map<string, number>();
  const subjects = new Map<string, number[]>();
  const compat = new Map<string, string>();
  return {
    async register(subject, schema, opts = {}) {
      const type = forSchema(schema);
      const canonical = type.schema({ exportAttrs: true }) as unknown;
      const key = JSON.stringify(canonical);
      let id = idByCanonical.get(key);
      if (id === undefined) {
        id = idByCanonical.size + 1;
        idByCanonical.set(key, id);
        byId.set(id, type);
      }
      const versions = subjects.get(subject) ?? [];
      if (!versions.includes(id)) versions.push(id);
      subjects.set(subject, versions);
      compat.set(subject, opts.compatibility ?? 'BACKWARD');
      return id;
    },
    async typeForId(id) {
      const t = byId.get(id);
      if (!t)
        throw new SluiceError('SERDE_UNKNOWN_SCHEMA', `schema id ${id} is not in the registry`, {
          details: { schemaId: id },
        });
      return t;
    },
    async latestId(subject) {
      const v = subjects.get(subject);
      if (!v?.length)
        throw new SluiceError('REGISTRY_REQUEST_FAILED', `subject ${subject} not found`, { details: { status: 404 } });
      return v[v.length - 1];
    },
    async compatibility(subject) {
      return compat.get(subject);
    },
    async deleteSubject(subject) {
      subjects.delete(subject);
    },
    async subjects() {
      return [...subjects.keys()];
    },
  };
}
