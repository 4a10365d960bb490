/**
 * The one catalogue of Sluice errors. Every error has a stable code
 * (`SLUICE_ERR_<AREA>_<WHAT>`), says whether retrying may help, and carries the
 * record's coordinates when a record is involved, so logs and DLQ headers can point
 * at the exact input without printing its contents.
 *
 * @example
 *   throw new SluiceError('SERDE_UNKNOWN_SCHEMA', `schema id ${id} is not in the registry`, { coordinates });
 */

export interface RecordCoordinates {
  topic: string;
  partition: number;
  offset: string;
}

/** Code → [retriable, what the operator should do]. Codes never change meaning once shipped. */
export const ERROR_CATALOGUE = {
  CONFIG_INVALID: [false, 'fix the named environment variable or config file entry'],
  STACK_PREREQUISITE_MISSING: [false, 'install the named program'],
  STACK_FETCH_FAILED: [true, 'check access to Maven Central, then rerun'],
  STACK_START_FAILED: [true, 'read the service log named in the message'],
  STACK_PORT_IN_USE: [false, 'stop whatever holds the port or change the port setting'],
  KAFKA_CONNECT_FAILED: [true, 'check SLUICE_KAFKA_BROKERS and that the brokers are up'],
  KAFKA_AUTH_FAILED: [
    false,
    'check SLUICE_KAFKA_SASL_MECHANISM, SLUICE_KAFKA_SASL_USERNAME and SLUICE_KAFKA_SASL_PASSWORD (or _FILE)',
  ],
  KAFKA_TOPIC_MISMATCH: [false, 'the existing topic differs from the configuration; fix it by hand'],
  KAFKA_PRODUCE_FAILED: [true, 'check broker health'],
  KAFKA_TRANSIENT: [
    true,
    'the broker was briefly unavailable (leader election, new topic, coordinator loading); retried automatically, check broker health if it repeats',
  ],
  SINK_RECORD_REJECTED: [
    false,
    'the sink cannot store this record; it is in <source>.dlq with reason sink (SLUICE_SINK_ERRORS=dlq), fix the data or the table and replay it',
  ],
  KAFKA_CONSUMER_CRASHED: [true, 'the consumer is restarted; check broker health if it repeats'],
  REGISTRY_UNAVAILABLE: [true, 'check SLUICE_REGISTRY_URL and that the registry is up'],
  REGISTRY_AUTH_FAILED: [false, 'check SLUICE_REGISTRY_USERNAME and SLUICE_REGISTRY_PASSWORD (or _FILE)'],
  REGISTRY_INCOMPATIBLE: [false, 'the schema change breaks the subject compatibility level'],
  REGISTRY_REQUEST_FAILED: [false, 'the registry refused the request; see its message'],
  SERDE_BAD_MAGIC: [false, 'the value is not in the Confluent wire format'],
  SERDE_TRUNCATED: [false, 'the value is shorter than its schema requires'],
  SERDE_TRAILING_BYTES: [false, 'the value has bytes after the end of its record'],
  SERDE_TOO_LARGE: [false, 'the value exceeds SLUICE_MAX_MESSAGE_BYTES'],
  SERDE_UNKNOWN_SCHEMA: [false, 'the schema id is not in the registry'],
  SERDE_HOSTILE_LENGTH: [false, 'a length or block count in the value exceeds what the buffer can hold'],
  SERDE_SCHEMA_MISMATCH: [false, 'the writer schema cannot be read with the topology reader schema'],
  SERDE_INVALID_DATA: [false, 'the value does not match the schema'],
  SERDE_ENCODE_FAILED: [false, 'the record does not match the schema it is written with'],
  SCHEMA_NOT_FOUND: [false, 'add the .avsc file under schemas/'],
  PG_QUERY_FAILED: [true, 'check the Postgres server and the statement in the message'],
  PG_UNREACHABLE: [true, 'check SLUICE_PG_HOST and SLUICE_PG_PORT and that Postgres is up'],
  PG_AUTH_FAILED: [
    false,
    'check SLUICE_PG_USER, SLUICE_PG_PASSWORD (or _FILE), SLUICE_PG_SSLMODE and SLUICE_PG_SSL_ROOT_CERT',
  ],
  S3_REQUEST_FAILED: [true, 'check SLUICE_S3_ENDPOINT, the bucket and the credentials'],
  CLI_USAGE: [false, 'see --help'],
  INTERNAL: [false, 'a bug: report it with the log line'],
  EXTRACT_POSITION_INVALID: [
    false,
    'the extract positions topic holds a value that is not {"updated_at", "id"} JSON: write a tombstone for that table key, or rerun with --full or --since',
  ],
  EXTRACT_HORIZON_HIDDEN: [
    false,
    'grant pg_read_all_stats to the extract role so it sees every open transaction; until then the safety lag also holds the position back',
  ],
  CDC_SLOT_INVALIDATED: [
    false,
    'the server removed WAL the CDC slot still needed (max_slot_wal_keep_size): drop the slot (`select pg_drop_replication_slot(<slot>)`) and restart; the source takes a new snapshot (op r)',
  ],
  CDC_SLOT_BUSY: [
    true,
    'another process is streaming from the CDC slot: run one CDC source per slot (it is retried; stop the other or set SLUICE_CDC_SLOT)',
  ],
  CDC_STREAM_FAILED: [
    true,
    'the logical replication stream of the CDC source broke; it reconnects from the last confirmed LSN (check Postgres if it repeats)',
  ],
  CDC_DECODE_FAILED: [
    false,
    'a change of a published table does not fit its oltp.<table> schema (a column added, renamed or retyped): align the table, the TABLE_SPECS and the .avsc',
  ],
  WAREHOUSE_TEST_FAILED: [
    false,
    'a warehouse test found rows that break it (or could not run): see the examples, fix the data or the load, rerun `sluice check`',
  ],
  WAREHOUSE_TEST_RUN_FAILED: [
    true,
    'the scheduled warehouse tests could not run (their status gauges say 3, error); check that the warehouse database answers — the next run retries',
  ],
  FRESHNESS_BREACH: [
    false,
    'data of a subject is older than its SLA allows (or missing): check the producer, extract, runner or load feeding it; thresholds: SLUICE_FRESHNESS_SLAS',
  ],
  FRESHNESS_MEASURE_FAILED: [
    true,
    'the freshness of a subject could not be measured (it counts as breach); check that Kafka and the warehouse database answer',
  ],
  QUALITY_UNDER_THRESHOLD: [
    false,
    "an expectation's pass rate is under its alert threshold: `sluice quality` shows example failures (keys and offsets; replay them with `sluice replay-dlq`); thresholds: SLUICE_QUALITY_THRESHOLDS",
  ],
  QUALITY_PUBLISH_FAILED: [
    true,
    'the quality counts of this minute could not be published (retried at the next interval; the pipeline goes on): check broker health and SLUICE_QUALITY_TOPIC',
  ],
  ALERT_SIGNAL_FAILED: [
    true,
    'a signal of the alert rules could not be measured; its incidents stay as they are until it can: check the service in the message',
  ],
  ALERT_WEBHOOK_FAILED: [
    true,
    'a webhook did not take an incident after SLUICE_ALERT_WEBHOOK_ATTEMPTS attempts; check the receiver (the incident is on the incidents topic)',
  ],
  ALERT_WEBHOOK_DROPPED: [
    true,
    'a webhook fell SLUICE_ALERT_WEBHOOK_QUEUE posts behind and the oldest was dropped; check that the receiver answers quickly',
  ],
  ALERT_EVALUATOR_FENCED: [
    false,
    'another `sluice alerts` started with the same transactional id and took over; run one evaluator per cluster',
  ],
  INCIDENT_WRITE_FAILED: [
    true,
    'incidents could not be written to SLUICE_INCIDENTS_TOPIC; the evaluation is retried at the next tick: check broker health',
  ],
  INCIDENT_INVALID: [
    false,
    'a record on the incidents topic is not an incident JSON; it is skipped (check what else writes to SLUICE_INCIDENTS_TOPIC)',
  ],
  PII_KEY_MISSING: [
    false,
    'a zone hashes personal data and there is no key: set SLUICE_PII_KEY or SLUICE_PII_KEY_FILE (the same key on every runner, kept secret), or choose redact/truncate for every zone',
  ],
  PII_POLICY_CONFLICT: [
    false,
    'a zone cannot reveal more than the zone it reads: give it the same policy as SLUICE_PII_SILVER, or redact (or loosen SLUICE_PII_SILVER)',
  ],
  PII_MARK_INVALID: [
    false,
    'fix the "sluice.pii" property in the .avsc file: one of email, name, phone, address, free_text, on a string or nullable string field',
  ],
  FEED_NOT_A_WINDOW_RESULT: [
    false,
    'a record on a metrics topic is not a window result of its schema; the feed skips it (check what writes to the topic)',
  ],
  FEED_REPLAY_FAILED: [
    true,
    'a client asked to resume from an offset the feed could not read back; it is closed (1011) and reconnects with the same cursor',
  ],
  MCP_QUERY_REFUSED: [
    false,
    'the gold schema is read-only for `sluice mcp`: send one SELECT (or WITH ... SELECT) over the gold tables, values as $1..$n parameters',
  ],
  MCP_QUERY_TIMEOUT: [
    false,
    'the query ran longer than SLUICE_MCP_STATEMENT_TIMEOUT_MS: filter or aggregate more (a date range, a LIMIT), or raise the setting',
  ],
  MCP_QUERY_FAILED: [false, 'the statement is not valid over the gold schema: read the Postgres message and fix it'],
  MCP_NOT_FOUND: [false, 'the named metric, topic or table does not exist: the message lists the known ones'],
  MCP_UNAUTHORIZED: [
    false,
    'send `Authorization: Bearer <SLUICE_MCP_TOKEN>` (the local stack keeps it in .stack/secrets/mcp-token) from an allowed Origin',
  ],
  MCP_READER_SETUP_FAILED: [
    true,
    'the read-only role of `sluice mcp` could not be created or granted: SLUICE_PG_USER needs CREATEROLE and must own the gold schema',
  ],
} as const satisfies Record<string, readonly [boolean, string]>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * The full code of a catalogued error, for log lines that report one without throwing: a code
 * outside the catalogue does not type-check.
 *
 * @example log.warn({ code: errorCode('KAFKA_TRANSIENT'), attempt }, 'retrying');
 */
export function errorCode(code: ErrorCode): `SLUICE_ERR_${ErrorCode}` {
  return `SLUICE_ERR_${code}`;
}

export interface SluiceErrorOptions {
  cause?: unknown;
  coordinates?: RecordCoordinates;
  /** Extra structured context for logs; never record contents. */
  details?: Record<string, unknown>;
}

export class SluiceError extends Error {
  readonly code: `SLUICE_ERR_${ErrorCode}`;
  readonly shortCode: ErrorCode;
  readonly retriable: boolean;
  readonly hint: string;
  readonly coordinates?: RecordCoordinates;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.shortCode = code;
    this.code = `SLUICE_ERR_${code}`;
    const [retriable, hint] = ERROR_CATALOGUE[code];
    this.retriable = retriable;
    this.hint = hint;
    this.coordinates = options.coordinates;
    this.details = options.details;
  }

  /** A log-safe view: code, message, coordinates, never the record. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      hint: this.hint,
      ...(this.coordinates ? { coordinates: this.coordinates } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isSluiceError(err: unknown, code?: ErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.shortCode === code);
}

/** Wraps anything thrown into a SluiceError, keeping an existing one as is. */
export function asSluiceError(
  err: unknown,
  code: ErrorCode = 'INTERNAL',
  options: SluiceErrorOptions = {},
): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError(code, message, { ...options, cause: err });
}
