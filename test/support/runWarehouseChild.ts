/**
 * Test-only child process: the warehouse topology (prefixed topics, prefixed Postgres schemas)
 * in a runner of its own, so that a test can SIGKILL it at a precise point.
 *
 *   node test/support/runWarehouseChild.ts <topicPrefix> <schemaPrefix> <groupId>
 *
 * Environment, read here and nowhere else:
 * - SLUICE_TEST_PAUSE_BEFORE_COMMIT_MS: every flush transaction that writes rows waits this long
 *   after COPY and merge, before COMMIT; the child prints `SLUICE_TEST_IN_TX_AFTER_COPY {json}`
 *   when it starts waiting (the parent kills it on that line).
 * - SLUICE_TEST_COMMIT_INTERVAL_MS: the runner's Kafka commit interval (default 1000).
 * Prints `SLUICE_TEST_READY <url>` once running; SIGTERM stops it gracefully (exit 0).
 */
import { loadConfig } from '../../src/config/config.ts';
import { startRunnerProcess } from '../../src/runner/runnerProcess.ts';
import { prefixTopology } from '../../src/testing/prefixTopology.ts';
import { warehouseTopology } from '../../topologies/warehouse.ts';

export const READY_MARKER = 'SLUICE_TEST_READY';
export const IN_TX_MARKER = 'SLUICE_TEST_IN_TX_AFTER_COPY';

async function main(): Promise<void> {
  const [topicPrefix, schemaPrefix, groupId] = process.argv.slice(2);
  if (!topicPrefix || !schemaPrefix || !groupId) {
    process.stderr.write('usage: runWarehouseChild.ts <topicPrefix> <schemaPrefix> <groupId>\n');
    process.exit(2);
  }
  const pauseBeforeCommitMs = Number(process.env.SLUICE_TEST_PAUSE_BEFORE_COMMIT_MS ?? 0);
  const commitIntervalMs = Number(process.env.SLUICE_TEST_COMMIT_INTERVAL_MS ?? 1000);
  const def = prefixTopology(
    warehouseTopology({
      schemaPrefix,
      sink: {
        lingerMs: 100,
        pauseBeforeCommitMs,
        onPauseBeforeCommit: (info) => {
          process.stdout.write(`${IN_TX_MARKER} ${JSON.stringify(info)}\n`);
        },
      },
    }),
    topicPrefix,
  );
  const proc = await startRunnerProcess({ ...loadConfig(), httpPort: 0 }, [def], { groupId, commitIntervalMs });
  process.stdout.write(`${READY_MARKER} ${proc.url}\n`);
  const stop = () => {
    void proc.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.exitCode = await proc.done;
  process.exit();
}

if (import.meta.main) await main();
