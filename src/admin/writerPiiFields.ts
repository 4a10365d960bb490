import type { Config } from '../config/config.ts';
import { registryMarks } from '../pii/piiMaskingSerde.ts';

/**
 * The fields marked `"sluice.pii"` in the schema a record was written with, by schema id, from the
 * registry (the registered schemas keep the property; a parsed avsc Type does not), so `inspect`
 * masks what the writer declared personal even on topics whose schema changed since. Any mark
 * counts here, valid kind or not: display errs on the side of hiding.
 *
 * @example const marked = await writerPiiFields(cfg)(42); // ['email', 'full_name']
 */
export function writerPiiFields(cfg: Config): (schemaId: number) => Promise<string[]> {
  const marksOf = registryMarks(cfg);
  const known = new Map<number, Promise<string[]>>();
  return (id) => {
    let fields = known.get(id);
    if (!fields) {
      fields = marksOf(id).then((marks) => marks.map((f) => f.name));
      known.set(id, fields);
    }
    return fields;
  };
}

export { markedFieldNames } from '../pii/piiFields.ts';
