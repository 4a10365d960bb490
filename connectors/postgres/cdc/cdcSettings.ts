import { z } from 'zod';
import { commaList, positiveInt, type Setting } from '../../../src/config/settingSchemas.ts';
import { OLTP_TABLES } from '../../../src/shop/oltp/oltpTables.ts';

/** Slot and publication names: Postgres identifiers that need no quoting (slots allow no more). */
const slotName = z
  .string()
  .regex(/^[a-z0-9_]{1,63}$/, 'lower-case letters, digits and _ only, at most 63 characters (a slot name)');

/**
 * The OLTP source choice and the change-data-capture source's settings (SLUICE_OLTP_SOURCE,
 * SLUICE_CDC_*), declared beside the source (connectors/postgres/cdc) and joined into the one
 * settings table by src/config/config.ts. The CDC source's own schema (config.ts) reuses them.
 */
export const CDC_SETTINGS = {
  oltpSource: {
    env: 'SLUICE_OLTP_SOURCE',
    description:
      'How `sluice run` feeds oltp.<table>: extract (the hourly incremental extract) or cdc (Postgres logical ' +
      'replication, continuous, with deletes); `sluice run --source` overrides it',
    default: 'extract',
    emptyIsUnset: true,
    schema: z.enum(['extract', 'cdc']),
  },
  cdcDatabase: {
    env: 'SLUICE_CDC_DATABASE',
    description: 'Source database of the CDC source (empty: SLUICE_OLTP_DATABASE)',
    default: '',
    schema: z.string(),
  },
  cdcTables: {
    env: 'SLUICE_CDC_TABLES',
    description: `Comma-separated tables the CDC source publishes (known: ${OLTP_TABLES.join(', ')})`,
    default: OLTP_TABLES.join(','),
    emptyIsUnset: true,
    schema: z.preprocess(commaList, z.array(z.enum(OLTP_TABLES)).min(1)),
  },
  cdcSlot: {
    env: 'SLUICE_CDC_SLOT',
    description: 'Logical replication slot of the CDC source (pgoutput), created with a snapshot if missing',
    default: 'sluice_cdc',
    emptyIsUnset: true,
    schema: slotName,
  },
  cdcPublication: {
    env: 'SLUICE_CDC_PUBLICATION',
    description: 'Publication the CDC slot decodes (insert, update, delete of the tables), created if missing',
    default: 'sluice_cdc',
    emptyIsUnset: true,
    schema: slotName,
  },
  cdcTopicPrefix: {
    env: 'SLUICE_CDC_TOPIC_PREFIX',
    description: 'Changes of table T go to topic `<prefix>T` (the same topics as the extract)',
    default: 'oltp.',
    emptyIsUnset: true,
    schema: z.string(),
  },
  cdcStateTopic: {
    env: 'SLUICE_CDC_STATE_TOPIC',
    description: 'Compacted topic recording which slot finished its initial snapshot (key: database/slot)',
    default: 'sluice.cdc.state',
    emptyIsUnset: true,
    schema: z.string().min(1),
  },
  cdcBatchRecords: {
    env: 'SLUICE_CDC_BATCH_RECORDS',
    description:
      'Most change records produced in one round (and read ahead of Kafka before the replication stream pauses)',
    default: '5000',
    emptyIsUnset: true,
    schema: positiveInt.max(100_000),
  },
  cdcLagIntervalMs: {
    env: 'SLUICE_CDC_LAG_INTERVAL_MS',
    description: "How often the slot's lag (sluice_cdc_lag_bytes) is read from pg_replication_slots",
    default: '5000',
    emptyIsUnset: true,
    schema: positiveInt,
  },
} as const satisfies Record<string, Setting>;
