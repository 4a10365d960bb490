import { z } from 'zod';
import { type Config, SETTINGS } from '../../../src/config/config.ts';
import { SluiceError } from '../../../src/core/errors.ts';

/**
 * Configuration of the Postgres CDC source (`source.ts`): every field defaults to its
 * SLUICE_CDC_* setting (cdcSettings.ts); explicit options win.
 *
 * @example
 *   const source = parseCdcSourceConfig({ slot: 'shop_cdc' }, loadConfig());
 */
export const postgresCdcSourceConfig = z.object({
  database: z.string().min(1).describe('Source database on the configured Postgres server.'),
  tables: SETTINGS.cdcTables.schema.describe('Tables published (their changes go to `<topicPrefix><table>`).'),
  slot: SETTINGS.cdcSlot.schema.describe(
    'Logical replication slot (pgoutput). Missing: created with an exported snapshot, which is read first (op r).',
  ),
  publication: SETTINGS.cdcPublication.schema.describe(
    'Publication of the tables (insert, update, delete); created if missing, missing tables added.',
  ),
  topicPrefix: SETTINGS.cdcTopicPrefix.schema.describe('Changes of table T go to `<topicPrefix>T`.'),
  stateTopic: SETTINGS.cdcStateTopic.schema.describe(
    'Compacted topic: key `<database>/<slot>`, JSON {"snapshotLsn"} once the snapshot is acknowledged. A slot ' +
      'without it (a crash mid-snapshot) is dropped and created again with a new snapshot.',
  ),
  batchRecords: SETTINGS.cdcBatchRecords.schema.describe(
    'Most records per produce round; twice this many waiting pauses the replication stream.',
  ),
  lagIntervalMs: SETTINGS.cdcLagIntervalMs.schema.describe('Interval of the slot lag query (sluice_cdc_lag_bytes).'),
  snapshotPageSize: z.number().int().positive().describe('Rows per keyset page of the initial snapshot.'),
  statusIntervalMs: z
    .number()
    .int()
    .positive()
    .describe('Standby status updates at least this often (well under wal_sender_timeout).'),
});

export type PostgresCdcSourceConfig = z.output<typeof postgresCdcSourceConfig>;
export type PostgresCdcSourceInput = Partial<z.input<typeof postgresCdcSourceConfig>>;

/** The settings the source reads: a `Config` has them all. */
export type CdcSettings = Pick<
  Config,
  | 'oltpDatabase'
  | 'cdcDatabase'
  | 'cdcTables'
  | 'cdcSlot'
  | 'cdcPublication'
  | 'cdcTopicPrefix'
  | 'cdcStateTopic'
  | 'cdcBatchRecords'
  | 'cdcLagIntervalMs'
>;

/** Validates the source configuration before any I/O; CONFIG_INVALID names every bad field. */
export function parseCdcSourceConfig(input: PostgresCdcSourceInput, s: CdcSettings): PostgresCdcSourceConfig {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const parsed = postgresCdcSourceConfig.safeParse({
    database: s.cdcDatabase || s.oltpDatabase,
    tables: s.cdcTables,
    slot: s.cdcSlot,
    publication: s.cdcPublication,
    topicPrefix: s.cdcTopicPrefix,
    stateTopic: s.cdcStateTopic,
    batchRecords: s.cdcBatchRecords,
    lagIntervalMs: s.cdcLagIntervalMs,
    snapshotPageSize: 5000,
    statusIntervalMs: 10_000,
    ...defined,
  });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new SluiceError('CONFIG_INVALID', `invalid Postgres CDC configuration:\n  ${problems.join('\n  ')}`, {
    details: { problems },
  });
}
