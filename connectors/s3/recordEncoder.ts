import { SluiceError } from '../../src/core/errors.ts';
import type { Output, SinkContext } from '../../src/topology/types.ts';
import type { EncodeInto } from './blockBuffer.ts';
import type { S3SinkConfig } from './config.ts';
import { lakeRecordOf, RAW_SCHEMA_NAME } from './lakeRecord.ts';
import { jsonReplacer } from './parquetSchema.ts';
import { type WriterSchema, WriterSchemas } from './writerSchemas.ts';

/**
 * Turns outputs into object records: the lake record (original bytes) in the raw and quarantine
 * zones, the decoded value under its own schema in staging; Avro binary or one JSON line each.
 *
 * @example
 *   const schema = encoder.schemaNameOf(output);
 *   const size = blocks.append(encoder.encoderFor(output, schema));
 */
export class RecordEncoder {
  /** The staging zone writes decoded values; raw and quarantine write the Kafka record as it was. */
  private readonly decoded: boolean;
  private readonly writers: WriterSchemas;
  private readonly cfg: Pick<S3SinkConfig, 'zone' | 'format'>;
  private readonly name: string;

  constructor(cfg: Pick<S3SinkConfig, 'zone' | 'format'>, name: string, ctx: Pick<SinkContext, 'schemaFor'>) {
    this.cfg = cfg;
    this.name = name;
    this.decoded = cfg.zone === 'staging';
    this.writers = new WriterSchemas(ctx);
  }

  /** The writer schema's JSON, for the container header. */
  writerJson(schemaName: string): string {
    return this.writers.get(schemaName).json;
  }

  /** The writer schema of a schema name (Parquet objects derive their columns from it). */
  writer(schemaName: string): WriterSchema {
    return this.writers.get(schemaName);
  }

  /** The writer schema name of an output; CONFIG_INVALID for a raw output in the staging zone. */
  schemaNameOf(o: Output): string {
    if (!this.decoded) return RAW_SCHEMA_NAME;
    if (o.raw || !o.schemaSubjectTopic) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `${this.name}: the staging zone writes decoded values; output ${o.topic} is raw or has no schema ` +
          '(declare it without raw: true)',
      );
    }
    return o.schemaSubjectTopic;
  }

  /** Writes the output's record into a block buffer (see `EncodeInto`). */
  encoderFor(o: Output, schemaName: string): EncodeInto {
    const value = this.valueOf(o);
    const type = this.writers.get(schemaName).type;
    // Parquet objects keep their open row group Avro-encoded (see parquetBody.ts).
    if (this.cfg.format !== 'jsonl.gz') return (body, pos) => type.encode(value, body, pos);
    return (body, pos) => {
      // JSON lines check nothing by themselves: a staging object holds what its schema says, in
      // either format, so a value the schema refuses is refused here too.
      if (this.decoded && !type.isValid(value))
        throw new SluiceError('SINK_RECORD_REJECTED', `${this.name}: the value does not match ${schemaName}`);
      const line = `${JSON.stringify(value, jsonReplacer)}\n`;
      const n = Buffer.byteLength(line, 'utf8');
      if (pos + n > body.length) return body.length - (pos + n);
      body.write(line, pos, 'utf8');
      return pos + n;
    };
  }

  /**
   * Why no object can hold this record (its value does not match the writer schema, or does not
   * serialise), or undefined if one can. Names the fields, never their values: the message goes
   * into the dead letter's headers and the runner's log.
   */
  problemWith(o: Output, schemaName: string): string | undefined {
    const value = this.valueOf(o);
    const bad: string[] = [];
    const valid = this.writers.get(schemaName).type.isValid(value, {
      errorHook: (path) => {
        bad.push(path.join('.') || '(root)');
      },
    });
    if (!valid) return `the value does not match the writer schema ${schemaName} at ${bad.slice(0, 5).join(', ')}`;
    if (this.cfg.format === 'jsonl.gz') {
      try {
        JSON.stringify(value, jsonReplacer);
      } catch (err) {
        return `the value cannot be written as JSON (${(err as Error).name})`;
      }
    }
    return undefined;
  }

  private valueOf(o: Output): unknown {
    return this.decoded ? o.value : lakeRecordOf(o.source!);
  }
}
