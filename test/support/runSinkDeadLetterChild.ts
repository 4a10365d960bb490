/**
 * Test-only child process: the warehouse dead-letter topology (test/support/deadLetterTopologies.ts)
 * on prefixed topics in a runner of its own, so that a test can SIGKILL it while the sink is
 * isolating poison rows.
 *
 *   node test/support/runSinkDeadLetterChild.ts <topicPrefix> <pgSchema> <groupId>
 *
 * Environment, read here and nowhere else:
 * - SLUICE_TEST_PAUSE_BEFORE_COMMIT_MS: every flush transaction that writes rows waits this long
 *   before COMMIT and the child prints `SLUICE_TEST_IN_TX_AFTER_COPY {json}` when it starts waiting.
 * Prints `SLUICE_TEST_READY <url>` once running; SIGTERM stops it gracefully (exit 0).
 */
import { loadConfig } from '../../src/config/config.ts';
import { startRunnerProcess } from '../../src/runner/runnerProcess.ts';
import { prefixTopology } from '../../src/testing/prefixTopology.ts';
import { warehouseDeadLetterTopology } from './deadLetterTopologies.ts';
import { IN_TX_MARKER, READY_MARKER } from './runWarehouseChild.ts';

async function main(): Promise<void> {
  const [topicPrefix, schema, groupId] = process.argv.slice(2);
  if (!topicPrefix || !schema || !groupId) {
    process.stderr.write('usage: runSinkDeadLetterChild.ts <topicPrefix> <pgSchema> <groupId>\n');
    process.exit(2);
  }
  const pauseBeforeCommitMs = Number(process.env.SLUICE_TEST_PAUSE_BEFORE_COMMIT_MS ?? 0);
  const def = prefixTopology(
    warehouseDeadLetterTopology({
      schema,
      sink: {
        pauseBeforeCommitMs,
        onPauseBeforeCommit: (info) => {
          process.stdout.write(`${IN_TX_MARKER} ${JSON.stringify(info)}\n`);
        },
      },
    }),
    topicPrefix,
  );
  const proc = await startRunnerProcess({ ...loadConfig(), httpPort: 0 }, [def], { groupId, commitIntervalMs: 200 });
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
