import { piiMark } from '../catalog/schemaFields.ts';
import { type Config, secretOf } from '../config/config.ts';
import { callRegistry } from '../serde/callRegistry.ts';
import { registryHttp } from '../serde/registryHttp.ts';

/**
 * The fields marked `"sluice.pii"` in the schema a record was written with, by schema id, from the
 * registry (the registered schemas keep the property; a parsed avsc Type does not), so `inspect`
 * masks what the writer declared personal even on topics whose schema changed since. Any mark
 * counts here, valid kind or not: display errs on the side of hiding.
 *
 * @example const marked = await writerPiiFields(cfg)(42); // ['email', 'full_name']
 */
export function writerPiiFields(cfg: Config): (schemaId: number) => Promise<string[]> {
  const base = cfg.registryUrl.replace(/\/+$/, '');
  const auth = cfg.registryUsername
    ? { username: cfg.registryUsername, password: secretOf(cfg, 'registryPassword') }
    : undefined;
  const http = registryHttp(base, auth);
  const known = new Map<number, Promise<string[]>>();
  return (id) => {
    let fields = known.get(id);
    if (!fields) {
      fields = callRegistry(base, `schema id ${id}`, () => http<{ schema: string }>('GET', `/schemas/ids/${id}`)).then(
        (res) => markedFieldNames(JSON.parse(res.schema)),
      );
      known.set(id, fields);
    }
    return fields;
  };
}

/** The names of the top-level fields of a record schema that carry a `sluice.pii` mark. */
export function markedFieldNames(schema: unknown): string[] {
  const fields = (schema as { fields?: unknown })?.fields;
  if (!Array.isArray(fields)) return [];
  return fields.filter((f: Record<string, unknown>) => piiMark(f) !== null).map((f) => String(f.name));
}
