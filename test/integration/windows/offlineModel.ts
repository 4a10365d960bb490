/** Moved to src/testing/offlineMetrics.ts (the chaos harness uses it too); kept for existing imports. */
export { offlineFunnel, type Click } from '../../../src/testing/offlineMetrics.ts';
