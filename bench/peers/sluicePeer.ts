/**
 * The Sluice peer of the topology bench: the real clickstream topology through the runner, with
 * the default settings, on the bench's topics (`<prefix>.web.clickstream` …) and dedupe state of
 * its own (`<storePrefix>`), so no run restores another's. Prints "running" once the runner is up;
 * stops cleanly on SIGTERM.
 *
 *   node bench/peers/sluicePeer.ts <prefix> <storePrefix> <groupId> <at_least_once|exactly_once>
 */
import clickstream from '../../topologies/clickstream.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startRunnerProcess } from '../../src/runner/runnerProcess.ts';
import { renameTopology } from '../../src/testing/prefixTopology.ts';

const [prefix, storePrefix, groupId, guarantee] = process.argv.slice(2);
const cfg = { ...loadConfig(), httpPort: 0, processingGuarantee: guarantee as 'at_least_once' | 'exactly_once' };
const proc = await startRunnerProcess(cfg, [renameTopology(clickstream, (t) => `${prefix}.${t}`, storePrefix)], {
  groupId,
  feed: false,
});
process.stdout.write('running\n');
process.once('SIGTERM', () => {
  proc.stop().finally(() => process.exit(0));
});
