import { createLogger } from '../../src/core/log.ts';

/** The one logger of the S3 sink's modules (component `sink_s3`): one stderr stream, not one per file. */
export const s3Log = createLogger('sink_s3');
