import { z } from 'zod';
import { OLTP_TABLES } from '../shop/oltp/oltpTables.ts';
import { commaList, positiveInt, type Setting } from './settingSchemas.ts';

/** Anything but false, 0 or no is true. */
const lenientBool = z
  .union([z.boolean(), z.string(), z.number()])
  .transform((v) => (typeof v === 'boolean' ? v : !['false', '0', 'no'].includes(String(v).toLowerCase())));

/**
 * The Postgres extract's settings (SLUICE_EXTRACT_*), rows of the one settings table. Its
 * variables always took an empty value as not set, and any flag value but false, 0 or no as true;
 * so they still do. The source's own schema (connectors/postgres/extract/config.ts) reuses these.
 */
export const EXTRACT_SETTINGS = {
  extractDatabase: {
    env: 'SLUICE_EXTRACT_DATABASE',
    description: 'Source database of the Postgres extract (empty: SLUICE_OLTP_DATABASE)',
    default: '',
    schema: z.string(),
  },
  extractTables: {
    env: 'SLUICE_EXTRACT_TABLES',
    description: `Comma-separated tables the extract reads, in this order (known: ${OLTP_TABLES.join(', ')})`,
    default: OLTP_TABLES.join(','),
    emptyIsUnset: true,
    schema: z.preprocess(commaList, z.array(z.enum(OLTP_TABLES)).min(1)),
  },
  extractPageSize: {
    env: 'SLUICE_EXTRACT_PAGE_SIZE',
    description: 'Rows per keyset page of the extract: one produce request and one position write per page',
    default: '5000',
    emptyIsUnset: true,
    schema: positiveInt.max(100_000),
  },
  extractWatermark: {
    env: 'SLUICE_EXTRACT_WATERMARK',
    description:
      'How far the stored extract position may advance: transaction-aware (not past the oldest open ' +
      'transaction) or safety-lag',
    default: 'transaction-aware',
    emptyIsUnset: true,
    schema: z.enum(['transaction-aware', 'safety-lag']),
  },
  extractSafetyLagMs: {
    env: 'SLUICE_EXTRACT_SAFETY_LAG_MS',
    description: 'Hold-back of the safety-lag watermark (also applied when open transactions are hidden from the role)',
    default: '60000',
    emptyIsUnset: true,
    schema: z.coerce.number().int().min(0),
  },
  extractIntervalMs: {
    env: 'SLUICE_EXTRACT_INTERVAL_MS',
    description: 'Interval of the extract inside `sluice run` (runs never overlap)',
    default: '3600000',
    emptyIsUnset: true,
    schema: positiveInt,
  },
  extractTopicPrefix: {
    env: 'SLUICE_EXTRACT_TOPIC_PREFIX',
    description: 'Events of table T go to topic `<prefix>T`',
    default: 'oltp.',
    emptyIsUnset: true,
    schema: z.string(),
  },
  extractPositionsTopic: {
    env: 'SLUICE_EXTRACT_POSITIONS_TOPIC',
    description: 'Compacted topic of the last durable extract position per table (a tombstone resets a table)',
    default: 'sluice.extract.positions',
    emptyIsUnset: true,
    schema: z.string().min(1),
  },
  extractCreateTopics: {
    env: 'SLUICE_EXTRACT_CREATE_TOPICS',
    description: 'Create missing extract event topics and the positions topic at start',
    default: 'true',
    emptyIsUnset: true,
    schema: lenientBool,
  },
  extractPositionsReadTimeoutMs: {
    env: 'SLUICE_EXTRACT_POSITIONS_READ_TIMEOUT_MS',
    description: 'How long reading the positions topic may make no progress before it fails',
    default: '15000',
    emptyIsUnset: true,
    schema: positiveInt,
  },
} as const satisfies Record<string, Setting>;
