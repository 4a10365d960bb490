import { z } from 'zod';
import { SluiceError } from '../../src/core/errors.ts';
import { OLTP_TABLES } from '../../src/shop/oltp/oltpDdl.ts';

/**
 * Configuration of the Postgres incremental source (`source_postgres_incremental.ts`): the
 * schema is at once the validation, the documentation and the example. Every field has a
 * default, so `{}` is a valid configuration that extracts the four shop tables of
 * SLUICE_OLTP_DATABASE hourly into `oltp.<table>`.
 *
 * Each field can also come from an environment variable (listed in EXTRACT_ENV), which is how
 * `sluice run` and `sluice extract` configure it; explicit options win over the environment.
 *
 * @example
 *   const source = parseExtractSourceConfig({ tables: ['orders'], pageSize: 1000 });
 */

const positiveInt = z.coerce.number().int().positive();

export const postgresIncrementalSourceConfig = z.object({
  database: z.string().min(1).optional().describe('Source database on the configured Postgres server.'),
  tables: z
    .array(z.enum(OLTP_TABLES))
    .min(1)
    .default([...OLTP_TABLES])
    .describe(
      `Tables to extract, in this order (parents before children is friendliest to referential rules). Known: ${OLTP_TABLES.join(', ')}.`,
    ),
  pageSize: positiveInt
    .max(100_000)
    .default(5000)
    .describe(
      'Rows per keyset page `(updated_at, pk) > ($1, $2) order by updated_at, pk limit N`; one produce request and one position write per page.',
    ),
  watermark: z
    .enum(['transaction-aware', 'safety-lag'])
    .default('transaction-aware')
    .describe(
      'How far the stored position may advance. transaction-aware: never past the start of the oldest transaction still writing in the source database (or the run start), so rows of late-committing transactions are re-read; safety-lag: never past (run start - safetyLagMs).',
    ),
  safetyLagMs: z.coerce
    .number()
    .int()
    .min(0)
    .default(60_000)
    .describe(
      'The hold-back of the safety-lag watermark; transaction-aware mode also applies it when the extractor role cannot see other sessions in pg_stat_activity (grant pg_read_all_stats to avoid that).',
    ),
  intervalMs: positiveInt
    .default(3_600_000)
    .describe(
      'Schedule interval of the extract inside `sluice run` (a run starts at most every interval; runs never overlap).',
    ),
  topicPrefix: z
    .string()
    .default('oltp.')
    .describe(
      'Events of table T go to topic `<topicPrefix>T`, value subject `<topicPrefix>T-value` (TopicNameStrategy).',
    ),
  positionsTopic: z
    .string()
    .min(1)
    .default('sluice.extract.positions')
    .describe(
      'Compacted topic holding the last durable position per table (key: table name, value: JSON {"updated_at", "id"}). A tombstone for a table resets it to a full snapshot.',
    ),
  createTopics: z
    .boolean()
    .default(true)
    .describe(
      'Create missing event topics (SLUICE_TOPIC_PARTITIONS partitions) and the compacted positions topic at start.',
    ),
  positionsReadTimeoutMs: positiveInt
    .default(15_000)
    .describe(
      'How long reading the positions topic to its end may stay without progress before it fails (a broker problem) or, when only compacted-away tail records are missing, completes.',
    ),
});

export type PostgresIncrementalSourceConfig = z.output<typeof postgresIncrementalSourceConfig>;
export type PostgresIncrementalSourceInput = z.input<typeof postgresIncrementalSourceConfig>;

/** Environment variable of each field. */
export const EXTRACT_ENV: Readonly<Record<keyof PostgresIncrementalSourceConfig, string>> = Object.freeze({
  database: 'SLUICE_EXTRACT_DATABASE',
  tables: 'SLUICE_EXTRACT_TABLES',
  pageSize: 'SLUICE_EXTRACT_PAGE_SIZE',
  watermark: 'SLUICE_EXTRACT_WATERMARK',
  safetyLagMs: 'SLUICE_EXTRACT_SAFETY_LAG_MS',
  intervalMs: 'SLUICE_EXTRACT_INTERVAL_MS',
  topicPrefix: 'SLUICE_EXTRACT_TOPIC_PREFIX',
  positionsTopic: 'SLUICE_EXTRACT_POSITIONS_TOPIC',
  createTopics: 'SLUICE_EXTRACT_CREATE_TOPICS',
  positionsReadTimeoutMs: 'SLUICE_EXTRACT_POSITIONS_READ_TIMEOUT_MS',
});

function fromEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(EXTRACT_ENV)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (key === 'tables')
      out[key] = value
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    else if (key === 'createTopics') out[key] = !['false', '0', 'no'].includes(value.toLowerCase());
    else out[key] = value;
  }
  return out;
}

/**
 * Validates the source configuration (explicit options over SLUICE_EXTRACT_* variables over
 * defaults) before any I/O; CONFIG_INVALID names every bad field.
 */
export function parseExtractSourceConfig(
  input: PostgresIncrementalSourceInput = {},
  env: Record<string, string | undefined> = process.env,
): PostgresIncrementalSourceConfig {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const parsed = postgresIncrementalSourceConfig.safeParse({ ...fromEnv(env), ...defined });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const name = Object.hasOwn(EXTRACT_ENV, key)
        ? ` (${EXTRACT_ENV[key as keyof PostgresIncrementalSourceConfig]})`
        : '';
      return `${i.path.join('.') || '(root)'}${name}: ${i.message}`;
    });
    throw new SluiceError('CONFIG_INVALID', `invalid Postgres extract configuration:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  return parsed.data;
}

/** Field → description and default, for `--help` texts and docs. */
export function describeExtractSourceConfig(): { field: string; env: string; default: unknown; description: string }[] {
  const defaults = postgresIncrementalSourceConfig.parse({});
  return Object.entries(postgresIncrementalSourceConfig.shape).map(([field, schema]) => ({
    field,
    env: EXTRACT_ENV[field as keyof PostgresIncrementalSourceConfig],
    default: defaults[field as keyof PostgresIncrementalSourceConfig],
    description: (schema as z.ZodType).description ?? '',
  }));
}
