import { z } from 'zod';
import type { Setting } from '../../src/config/settingSchemas.ts';
import { S3_SINK_FORMATS } from './config.ts';

/**
 * The lake topology's settings, declared beside what reads them (`topologies/lake.ts`). Joined
 * into the settings table by src/config/config.ts.
 */
export const LAKE_SETTINGS = {
  lakeStagingFormat: {
    env: 'SLUICE_LAKE_STAGING_FORMAT',
    description:
      'Object format of the lake staging zone (silver topics): avro, jsonl.gz or parquet (typed columns, for ' +
      'DuckDB, Athena, Spark); raw and quarantine stay Avro, the audit copy',
    default: 'avro',
    schema: z.enum(S3_SINK_FORMATS),
  },
} as const satisfies Record<string, Setting>;
