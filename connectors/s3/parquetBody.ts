import { zstdCompressSync } from 'node:zlib';
import type avro from 'avsc';
import { ByteWriter, type ColumnSource, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import type { EncodeInto } from './blockBuffer.ts';
import type { S3SinkConfig } from './config.ts';
import { type ParquetColumn, parquetColumnsOf, parquetSchemaOf } from './parquetSchema.ts';

/** The settings a Parquet object is written with. */
export type ParquetPacking = Pick<S3SinkConfig, 'parquetCodec' | 'parquetRowGroupRows' | 'parquetRowGroupBytes'>;

/** What every Parquet object of one writer schema shares: its columns and the Avro type its rows are kept in. */
export interface ParquetLayout {
  columns: ParquetColumn[];
  schema: SchemaElement[];
  /** Writer schema JSON, kept in the footer as `parquet.avro.schema` (the key parquet-avro readers look for). */
  avroJson: string;
  type: avro.Type;
  /** A record schema (one column per field) or anything else (one column `value`). */
  isRecord: boolean;
}

const layouts = new WeakMap<avro.Type, ParquetLayout>();

/** The layout of a writer schema (derived once per avsc type). */
export function parquetLayoutOf(writer: { json: string; type: avro.Type }): ParquetLayout {
  let layout = layouts.get(writer.type);
  if (!layout) {
    const parsed = JSON.parse(writer.json) as { type?: unknown };
    const columns = parquetColumnsOf(parsed);
    const isRecord = parsed.type === 'record';
    layout = { columns, schema: parquetSchemaOf(columns), avroJson: writer.json, type: writer.type, isRecord };
    layouts.set(writer.type, layout);
  }
  return layout;
}

const CODECS = { zstd: 'ZSTD', snappy: 'SNAPPY', uncompressed: 'UNCOMPRESSED' } as const;
/** zstd from node:zlib (native); snappy is hyparquet-writer's own. */
const COMPRESSORS = { ZSTD: (input: Uint8Array) => zstdCompressSync(input) };
/** Fixed, so a rewrite of the same records is byte-identical (no library version in the bytes). */
const CREATED_BY = 'sluice';
const INITIAL_ROWS_BYTES = 64 * 1024;

/**
 * The body of one Parquet object, built row group by row group. Records are kept Avro-encoded (as
 * compact as the avro format keeps them) until the open row group is full — `parquetRowGroupRows`
 * records or `parquetRowGroupBytes` encoded bytes — then decoded into columns, encoded and
 * compressed as one row group, and the Avro bytes are dropped. So an open object holds its
 * finished, compressed row groups plus at most one row group of Avro bytes; the column arrays of
 * a row group exist only while it is being written (synchronously, so one at a time per process).
 * `close` writes the last row group and the footer; `blocks` then go into the object as they are.
 *
 * @example
 *   const body = new ParquetBody(parquetLayoutOf(writer), cfg);
 *   body.append((buf, pos) => writer.type.encode(value, buf, pos));
 *   body.close({ 'sluice.topic': 'oltp.orders' });
 */
export class ParquetBody {
  /** Finished bytes of the object (magic, row groups, then the footer after `close`). */
  blocks: Buffer[] = [];
  private readonly layout: ParquetLayout;
  private readonly packing: ParquetPacking;
  private readonly out: ChunkWriter;
  private writer: ParquetWriter | undefined;
  private rows: Buffer | undefined = Buffer.allocUnsafeSlow(INITIAL_ROWS_BYTES);
  private pos = 0;
  private count = 0;

  constructor(layout: ParquetLayout, packing: ParquetPacking) {
    this.layout = layout;
    this.packing = packing;
    this.out = new ChunkWriter(this.blocks);
    this.writer = new ParquetWriter({
      writer: this.out,
      schema: layout.schema,
      codec: CODECS[packing.parquetCodec],
      compressors: COMPRESSORS,
      createdBy: CREATED_BY,
    });
  }

  /** Appends one record (Avro-encoded by `encode`); returns its encoded size. Throws what `encode` throws. */
  append(encode: EncodeInto): number {
    if (!this.rows) throw new Error('parquet: append after close');
    for (;;) {
      const end = encode(this.rows, this.pos);
      if (end >= 0) {
        const size = end - this.pos;
        this.pos = end;
        this.count++;
        if (this.count >= this.packing.parquetRowGroupRows || this.pos >= this.packing.parquetRowGroupBytes)
          this.writeRowGroup();
        return size;
      }
      const grown = Buffer.allocUnsafeSlow(Math.max(this.rows.length * 2, this.pos - end + INITIAL_ROWS_BYTES));
      this.rows.copy(grown, 0, 0, this.pos);
      this.rows = grown;
    }
  }

  /** Writes the open row group and the footer (with `metadata` as key-value metadata). */
  close(metadata: Record<string, string> = {}): void {
    if (!this.writer) return;
    this.writeRowGroup();
    this.rows = undefined;
    const kv = { ...metadata, 'parquet.avro.schema': this.layout.avroJson };
    this.writer.kvMetadata = Object.entries(kv).map(([key, value]) => ({ key, value }));
    this.writer.finish();
    this.writer = undefined;
  }

  /** Drops the finished bytes (once the object is written, or given up). */
  release(): void {
    this.blocks.length = 0;
    this.rows = undefined;
    this.writer = undefined;
  }

  private writeRowGroup(): void {
    if (!this.count || !this.rows || !this.writer) return;
    const { columns, type, isRecord } = this.layout;
    const data = columns.map(() => new Array<unknown>(this.count));
    let p = 0;
    for (let i = 0; i < this.count; i++) {
      const { value, offset } = type.decode(this.rows, p) as { value: unknown; offset: number };
      p = offset;
      for (let j = 0; j < columns.length; j++) {
        const v = isRecord ? (value as Record<string, unknown>)[columns[j].name] : value;
        data[j][i] = v === null || v === undefined ? null : columns[j].convert(v);
      }
    }
    const columnData = columns.map((c, j) => ({ name: c.name, data: data[j] }) as ColumnSource);
    void this.writer.write({ columnData, rowGroupSize: this.count });
    this.pos = 0;
    this.count = 0;
    if (this.rows.length > this.packing.parquetRowGroupBytes * 2)
      this.rows = Buffer.allocUnsafeSlow(INITIAL_ROWS_BYTES);
  }
}

/**
 * hyparquet-writer's byte writer, emptied into `chunks` after every row group (and at the end),
 * so a finished row group is held once, as exactly its bytes.
 */
class ChunkWriter extends ByteWriter {
  private readonly chunks: Buffer[];

  constructor(chunks: Buffer[]) {
    super(INITIAL_ROWS_BYTES);
    this.chunks = chunks;
  }

  flush(): void {
    if (!this.index) return;
    this.chunks.push(Buffer.from(this.buffer.slice(0, this.index)));
    this.index = 0;
    // The buffer grew to the largest row group: start small again rather than keep it per open object.
    if (this.buffer.byteLength > INITIAL_ROWS_BYTES * 4) {
      this.buffer = new ArrayBuffer(INITIAL_ROWS_BYTES);
      this.view = new DataView(this.buffer);
    }
  }

  override finish(): void {
    this.flush();
  }
}
