import pg from 'pg';
import { type Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { SluiceError } from '../../../src/core/errors.ts';
import { formatLsn } from './lsn.ts';

/**
 * The streaming half of the replication protocol, over a `pg` client in replication mode:
 * START_REPLICATION of a pgoutput slot, XLogData and keepalive frames in, standby status updates
 * out. pg-logical-replication's parser decodes the pgoutput messages; its service class is not
 * used, because it acknowledges on its own (a timer confirms the last *received* LSN, and every
 * acknowledgement is LSN + 1, which can skip a transaction whose commit record starts exactly
 * there) — the CDC source must confirm only what Kafka has acknowledged, so it drives the
 * protocol here (about a hundred lines).
 */

/** Microseconds between the Unix epoch and the Postgres epoch (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;

/** What the stream hands its owner, in WAL order. */
export interface StreamHandlers {
  /** A decoded pgoutput message and the WAL position the server sent it at. */
  onMessage(message: Pgoutput.Message, walStart: bigint): void;
  /** The server's WAL end; `replyRequested`: it wants a status update now. */
  onKeepalive(walEnd: bigint, replyRequested: boolean): void;
}

/** pgoutput messages whose column values stay the server's text (rowImage.ts converts them). */
function textValueParser(): { parse(buf: Buffer): Pgoutput.Message } {
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [] });
  return {
    parse(buf) {
      const msg = plugin.parse(buf) as Pgoutput.Message;
      // The relation is cached by the parser and its columns' parsers used for every later tuple.
      if (msg.tag === 'relation') for (const c of msg.columns) c.parser = (raw: unknown) => raw;
      return msg;
    },
  };
}

/** One replication connection streaming one slot. */
export class ReplicationStream {
  private readonly client: pg.Client;
  private readonly parser = textValueParser();
  private received = 0n;
  private ended = false;
  /** Settles when the stream ends: resolves on `close`, rejects when it breaks. */
  readonly done: Promise<void>;
  private settle!: (err?: unknown) => void;

  constructor(conf: pg.ClientConfig) {
    // ISO text and UTC for timestamptz values; the walsender formats them with these settings.
    this.client = new pg.Client({
      ...conf,
      replication: 'database',
      options: '-c datestyle=ISO -c timezone=UTC',
    } as pg.ClientConfig);
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err === undefined ? resolve() : reject(err));
    });
    this.done.catch(() => {}); // observed by the owner; avoids an unhandled report before it looks
  }

  private get connection(): PgConnection {
    return (this.client as unknown as { connection: PgConnection }).connection;
  }

  /** Connects and starts streaming `slot` from `startLsn`; resolves once the server streams. */
  async start(slot: string, publication: string, startLsn: bigint, handlers: StreamHandlers): Promise<void> {
    this.client.on('error', (err) => this.fail(err));
    await this.client.connect();
    const conn = this.connection;
    const started = new Promise<void>((resolve) => conn.once('replicationStart', () => resolve()));
    conn.on('copyData', ({ chunk }: { chunk: Buffer }) => {
      try {
        this.onFrame(chunk, handlers);
      } catch (err) {
        this.fail(err);
      }
    });
    const sql =
      `START_REPLICATION SLOT ${pg.escapeIdentifier(slot)} LOGICAL ${formatLsn(startLsn)} ` +
      `(proto_version '1', publication_names ${pg.escapeLiteral(publication)})`;
    const query = this.client.query(sql);
    query.then(
      () => this.finish(),
      (err) => this.fail(err),
    );
    await Promise.race([started, this.done]);
  }

  private onFrame(chunk: Buffer, handlers: StreamHandlers): void {
    if (this.ended) return;
    if (chunk[0] === 0x77) {
      // XLogData: 'w', walStart, walEnd, sendTime, then the pgoutput message.
      const walStart = chunk.readBigUInt64BE(1);
      if (walStart > this.received) this.received = walStart;
      handlers.onMessage(this.parser.parse(chunk.subarray(25)), walStart);
    } else if (chunk[0] === 0x6b) {
      // Primary keepalive: 'k', walEnd, sendTime, replyRequested.
      const walEnd = chunk.readBigUInt64BE(1);
      if (walEnd > this.received) this.received = walEnd;
      handlers.onKeepalive(walEnd, chunk[17] === 1);
    }
  }

  /** Standby status update: `flushed` is the confirmed LSN the slot may advance to. */
  sendStatus(flushed: bigint): void {
    if (this.ended) return;
    const buf = Buffer.alloc(34);
    buf.write('r', 0);
    buf.writeBigUInt64BE(this.received > flushed ? this.received : flushed, 1); // written
    buf.writeBigUInt64BE(flushed, 9); // flushed: what the slot's confirmed_flush_lsn becomes
    buf.writeBigUInt64BE(flushed, 17); // applied
    buf.writeBigInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    buf.writeUInt8(0, 33);
    this.connection.sendCopyFromChunk(buf);
  }

  /** Stops reading the socket: the server blocks once its send buffer is full (backpressure). */
  pause(): void {
    this.connection.stream.pause();
  }

  resume(): void {
    this.connection.stream.resume();
  }

  private fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const message = `replication stream: ${(err as Error)?.message ?? err}`;
    // 55006 object_in_use: another walsender still holds the slot (its client may have just died).
    const busy = (err as { code?: string })?.code === '55006';
    this.settle(
      err instanceof SluiceError
        ? err
        : new SluiceError(busy ? 'CDC_SLOT_BUSY' : 'CDC_STREAM_FAILED', message, { cause: err }),
    );
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.settle();
  }

  /** Ends the connection (the slot keeps its confirmed LSN); never throws. */
  async close(): Promise<void> {
    this.finish();
    await this.client.end().catch(() => {});
  }
}

/** The parts of pg's internal connection the protocol needs. */
interface PgConnection {
  once(event: 'replicationStart', fn: () => void): void;
  on(event: 'copyData', fn: (msg: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(buf: Buffer): void;
  stream: { pause(): void; resume(): void };
}
