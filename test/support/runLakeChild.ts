/**
 * The `lake` topology on prefixed topics in a process of its own, so an integration test can
 * SIGKILL it mid-upload and start it again.
 *
 *   node test/support/runLakeChild.ts <prefix> <groupId> ['{"rollRecords":10000}']
 *
 * Prints `ready <url>` on stdout once the runner consumes; SIGTERM stops it gracefully.
 */
import { loadConfig } from '../../src/config/config.ts';
import { startRunnerProcess } from '../../src/runner/runnerProcess.ts';
import { prefixTopology } from '../../src/testing/prefixTopology.ts';
import { lakeTopology } from '../../topologies/lake.ts';

const [prefix, groupId, sinkJson] = process.argv.slice(2);
if (!prefix || !groupId) {
  process.stderr.write('usage: runLakeChild.ts <prefix> <groupId> [sink config JSON]\n');
  process.exit(2);
}
const def = prefixTopology(lakeTopology(JSON.parse(sinkJson ?? '{}')), prefix);
const proc = await startRunnerProcess({ ...loadConfig(), httpPort: 0 }, [def], { groupId, commitIntervalMs: 200 });
process.stdout.write(`ready ${proc.url}\n`);
process.on('SIGTERM', () => {
  void proc.stop().then(() => process.exit(0));
});
void proc.done.then((code) => process.exit(code));
