import { z } from 'zod';
import { type Config, SETTINGS } from '../../../src/config/config.ts';
import { SluiceError } from '../../../src/core/errors.ts';
import { OLTP_TABLES } from '../../../src/shop/oltp/oltpTables.ts';

/**
 * Configuration of the Postgres incremental source (`source.ts`): the schema is at once the
 * validation, the documentation and the example. Every field defaults to its SLUICE_EXTRACT_*
 * setting of the one settings table (environment or config file), whose own defaults extract the
 * four shop tables of SLUICE_OLTP_DATABASE hourly into `oltp.<table>`; explicit options win.
 *
 * @example
 *   const source = parseExtractSourceConfig({ tables: ['orders'], pageSize: 1000 }, loadConfig());
 */
export const postgresIncrementalSourceConfig = z.object({
  database: z.string().min(1).optional().describe('Source database on the configured Postgres server.'),
  tables: z
    .array(z.enum(OLTP_TABLES))
    .min(1)
    .describe(
      'Tables to extract, in this order (parents before children is friendliest to referential rules). ' +
        `Known: ${OLTP_TABLES.join(', ')}.`,
    ),
  pageSize: SETTINGS.extractPageSize.schema.describe(
    'Rows per keyset page `(updated_at, pk) > ($1, $2) order by updated_at, pk limit N`; ' +
      'one produce request and one position write per page.',
  ),
  watermark: SETTINGS.extractWatermark.schema.describe(
    'How far the stored position may advance. transaction-aware: never past the start of the oldest ' +
      'transaction still writing in the source database (or the run start), so rows of late-committing ' +
      'transactions are re-read; safety-lag: never past (run start - safetyLagMs).',
  ),
  safetyLagMs: SETTINGS.extractSafetyLagMs.schema.describe(
    'The hold-back of the safety-lag watermark; transaction-aware mode also applies it when the extractor ' +
      'role cannot see other sessions in pg_stat_activity (grant pg_read_all_stats to avoid that).',
  ),
  intervalMs: SETTINGS.extractIntervalMs.schema.describe(
    'Schedule interval of the extract inside `sluice run` (a run starts at most every interval; runs never overlap).',
  ),
  topicPrefix: SETTINGS.extractTopicPrefix.schema.describe(
    'Events of table T go to topic `<topicPrefix>T`, value subject `<topicPrefix>T-value` (TopicNameStrategy).',
  ),
  positionsTopic: SETTINGS.extractPositionsTopic.schema.describe(
    'Compacted topic holding the last durable position per table (key: table name, value: JSON ' +
      '{"updated_at", "id"}). A tombstone for a table resets it to a full snapshot.',
  ),
  createTopics: z
    .boolean()
    .describe(
      'Create missing event topics (SLUICE_TOPIC_PARTITIONS partitions) and the compacted positions topic at start.',
    ),
  positionsReadTimeoutMs: SETTINGS.extractPositionsReadTimeoutMs.schema.describe(
    'How long reading the positions topic to its end may stay without progress before it fails (a broker ' +
      'problem) or, when only compacted-away tail records are missing, completes.',
  ),
});

export type PostgresIncrementalSourceConfig = z.output<typeof postgresIncrementalSourceConfig>;
export type PostgresIncrementalSourceInput = Partial<z.input<typeof postgresIncrementalSourceConfig>>;

type Field = keyof PostgresIncrementalSourceConfig;

/** The setting each field defaults to. */
const FIELD_SETTINGS = {
  database: 'extractDatabase',
  tables: 'extractTables',
  pageSize: 'extractPageSize',
  watermark: 'extractWatermark',
  safetyLagMs: 'extractSafetyLagMs',
  intervalMs: 'extractIntervalMs',
  topicPrefix: 'extractTopicPrefix',
  positionsTopic: 'extractPositionsTopic',
  createTopics: 'extractCreateTopics',
  positionsReadTimeoutMs: 'extractPositionsReadTimeoutMs',
} as const satisfies Record<Field, keyof Config>;

/** The settings the source reads: a `Config` has them all. */
export type ExtractSettings = Pick<Config, (typeof FIELD_SETTINGS)[Field]>;

function fromSettings(settings: ExtractSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(FIELD_SETTINGS)) out[field] = settings[key];
  // An empty SLUICE_EXTRACT_DATABASE means the shop's database, chosen when the source connects.
  if (out.database === '') delete out.database;
  return out;
}

/**
 * Validates the source configuration (explicit options over the SLUICE_EXTRACT_* settings) before
 * any I/O; CONFIG_INVALID names every bad field and its variable.
 */
export function parseExtractSourceConfig(
  input: PostgresIncrementalSourceInput,
  settings: ExtractSettings,
): PostgresIncrementalSourceConfig {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const parsed = postgresIncrementalSourceConfig.safeParse({ ...fromSettings(settings), ...defined });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => {
    const key = String(i.path[0] ?? '');
    const name = Object.hasOwn(FIELD_SETTINGS, key) ? ` (${SETTINGS[FIELD_SETTINGS[key as Field]].env})` : '';
    return `${i.path.join('.') || '(root)'}${name}: ${i.message}`;
  });
  throw new SluiceError('CONFIG_INVALID', `invalid Postgres extract configuration:\n  ${problems.join('\n  ')}`, {
    details: { problems },
  });
}
