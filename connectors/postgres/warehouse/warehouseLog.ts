import { createLogger } from '../../../src/core/log.ts';

/** The one logger of the warehouse sink's modules (component `sink-warehouse`): one stderr stream, not one per file. */
export const warehouseLog = createLogger('sink-warehouse');
