import type avro from 'avsc';
import { loadSchema } from '../../src/domain/schemas.ts';
import type { SinkContext } from '../../src/topology/types.ts';
import { LAKE_RECORD_SCHEMA, lakeRecordType, RAW_SCHEMA_NAME } from './lakeRecord.ts';

/** A writer schema: its JSON (for the container header) and its avsc type (to encode and validate). */
export interface WriterSchema {
  json: string;
  type: avro.Type;
}

/**
 * The writer schemas of one connector by schema name, resolved on first use: LAKE_RECORD_SCHEMA
 * for the raw and quarantine zones, the output's own schema for staging.
 *
 * @example new WriterSchemas(ctx).get('silver.orders').type.encode(value, buf, pos)
 */
export class WriterSchemas {
  private readonly byName = new Map<string, WriterSchema>();
  private readonly ctx: Pick<SinkContext, 'schemaFor'>;

  constructor(ctx: Pick<SinkContext, 'schemaFor'>) {
    this.ctx = ctx;
  }

  /** The writer schema of `schemaName` (cached). */
  get(schemaName: string): WriterSchema {
    let w = this.byName.get(schemaName);
    if (!w) {
      w = schemaName === RAW_SCHEMA_NAME ? rawWriter() : this.resolve(schemaName);
      this.byName.set(schemaName, w);
    }
    return w;
  }

  private resolve(schemaName: string): WriterSchema {
    const type = this.ctx.schemaFor(schemaName);
    // The .avsc text keeps logical types avsc leaves unregistered (timestamp-millis).
    let json: string;
    try {
      json = JSON.stringify(loadSchema(schemaName));
    } catch {
      json = JSON.stringify(type.schema({ exportAttrs: true }));
    }
    return { json, type };
  }
}

function rawWriter(): WriterSchema {
  return { json: JSON.stringify(LAKE_RECORD_SCHEMA), type: lakeRecordType() };
}
