/**
 * A runner in a child process, for tests that SIGKILL it: `node runTopologyChild.ts <topology>
 * <prefix> <groupId>`. Prints `ready <url>` once consuming. Exits non-zero on a fatal error.
 */
import { loadConfig } from '../../src/config/config.ts';
import { startRunnerProcess } from '../../src/runner/runnerProcess.ts';
import { prefixTopology } from '../../src/testing/prefixTopology.ts';
import { TOPOLOGIES } from '../../topologies/index.ts';
import { metricsTopology } from '../../topologies/metrics.ts';

const [name, prefix, groupId, maxInFlight, metricsIdleMs, partitions] = process.argv.slice(2);
const cfg = { ...loadConfig(), httpPort: 0, ...(partitions ? { topicPartitions: Number(partitions) } : {}) };
const def =
  name === 'metrics' && metricsIdleMs ? metricsTopology({ idleTimeoutMs: Number(metricsIdleMs) }) : TOPOLOGIES[name];
const proc = await startRunnerProcess(cfg, [prefixTopology(def, prefix)], {
  groupId,
  commitIntervalMs: 100,
  maxInFlightPerPartition: maxInFlight && maxInFlight !== '-' ? Number(maxInFlight) : undefined,
});
process.stdout.write(`ready ${proc.url}\n`);
process.on('SIGTERM', () => {
  void proc.stop().then(() => process.exit(0));
});
process.exit(await proc.done);
