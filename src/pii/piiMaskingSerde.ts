import type { Config } from '../config/config.ts';
import { secretOf } from '../config/config.ts';
import { callRegistry } from '../serde/callRegistry.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { registryHttp } from '../serde/registryHttp.ts';
import type { StringMasker } from './maskValue.ts';
import { markedFieldNames, maskRecord, type PiiField, piiFields } from './piiFields.ts';

/** The marked fields of the schema registered under an id. */
export type WriterMarks = (schemaId: number) => Promise<PiiField[]>;

/**
 * `serde`, decoding with every field its writer schema marks `"sluice.pii"` masked by `mask`: how
 * the live feed applies its zone's policy (SLUICE_PII_FEED) to whatever a metric record carries.
 * The marks come from the registered schema (a parsed avsc Type drops the property), fetched
 * with the schema in `prepare`, so `decodeSync` stays synchronous.
 *
 * @example const feedSerde = withPiiMasking(serde, registryMarks(cfg), masking.maskerFor('feed')!);
 */
export function withPiiMasking(serde: AvroSerde, marksOf: WriterMarks, mask: StringMasker): AvroSerde {
  const marks = new Map<number, PiiField[]>();
  const learn = async (ids: Iterable<number>) => {
    await Promise.all(
      [...new Set(ids)].filter((id) => !marks.has(id)).map(async (id) => marks.set(id, await marksOf(id))),
    );
  };
  const masked = <T extends { schemaId: number; value: unknown }>(d: T): T => {
    const fields = marks.get(d.schemaId);
    return fields?.length ? { ...d, value: maskRecord(d.value, fields, mask), piiMasked: true } : d;
  };
  return {
    ...serde,
    async prepare(values) {
      const list = [...values];
      await serde.prepare(list);
      await learn(list.flatMap((v) => (v && v.length >= 5 && v[0] === 0 ? [v.readInt32BE(1)] : [])));
    },
    async prepareIds(ids) {
      const list = [...ids];
      await serde.prepareIds(list);
      await learn(list);
    },
    async decode(value, coordinates, reader) {
      await this.prepare([value]);
      return this.decodeSync(value, coordinates, reader);
    },
    decodeSync: (value, coordinates, reader) => masked(serde.decodeSync(value, coordinates, reader)),
  };
}

/**
 * The marks of registered schemas, from the registry at `cfg.registryUrl`. A mark that is not a
 * known kind, or on a field that is not a string, is masked as `free_text` rather than shown.
 */
export function registryMarks(cfg: Config): WriterMarks {
  const base = cfg.registryUrl.replace(/\/+$/, '');
  const auth = cfg.registryUsername
    ? { username: cfg.registryUsername, password: secretOf(cfg, 'registryPassword') }
    : undefined;
  const http = registryHttp(base, auth);
  return async (id) => {
    const res = await callRegistry(base, `schema id ${id}`, () =>
      http<{ schema: string }>('GET', `/schemas/ids/${id}`),
    );
    const schema = JSON.parse(res.schema) as { fields?: Record<string, unknown>[] };
    try {
      return piiFields(schema, `schema id ${id}`);
    } catch {
      return markedFieldNames(schema).map((name) => ({ name, kind: 'free_text' as const }));
    }
  };
}
