/**
 * The whole CDC path in one child process, for the test that SIGKILLs it (cdcWarehouse.test.ts):
 * the CDC source into `<prefix>.oltp.*`, the customers, products and orders topologies into
 * `<prefix>.silver.*`, and the warehouse topology into the `<schemaPrefix>_*` schemas.
 *
 *   node cdcWarehouseChild.ts '{"input": <PostgresCdcSourceInput>, "prefix", "schemaPrefix", "groupPrefix"}'
 *
 * Each topology runs in a runner process of its own, with its own consumer group
 * (`<groupPrefix>-<topology>`): one group shared by topologies reading different topics would
 * hand one topology's partitions to another. Prints `ready` once the source streams and every
 * topology consumes; SIGTERM stops it gracefully (exit 0); a fatal error exits non-zero.
 */
import { createPostgresCdcSource } from '../../../connectors/postgres/cdc/source.ts';
import type { PostgresCdcSourceInput } from '../../../connectors/postgres/cdc/config.ts';
import { loadConfig } from '../../../src/config/config.ts';
import { type RunningProcess, startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';
import { warehouseTopology } from '../../../topologies/warehouse.ts';

interface ChildArgs {
  input: PostgresCdcSourceInput;
  prefix: string;
  schemaPrefix: string;
  groupPrefix: string;
}

const args = JSON.parse(process.argv[2]) as ChildArgs;
const cfg = { ...loadConfig(), httpPort: 0 };
const cdc = createPostgresCdcSource(cfg, args.input);
const procs: RunningProcess[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  stopping = true;
  await Promise.allSettled([cdc.stop(), ...procs.map((p) => p.stop())]);
  process.exit(code);
}

process.on('SIGTERM', () => void stopAll(0));
cdc.done.catch((err) => {
  process.stderr.write(`CDC source failed: ${(err as Error).message}\n`);
  void stopAll(1);
});

// The source first: it creates the oltp topics and publishes the snapshot the topologies start from.
await cdc.start();
const defs = [
  ...['customers', 'products', 'orders'].map((name) => TOPOLOGIES[name]),
  warehouseTopology({ schemaPrefix: args.schemaPrefix, sink: { lingerMs: 100 } }),
];
for (const def of defs) {
  const proc = await startRunnerProcess(cfg, [prefixTopology(def, args.prefix)], {
    groupId: `${args.groupPrefix}-${def.name}`,
    commitIntervalMs: 200,
    feed: false,
  });
  procs.push(proc);
  void proc.done.then((code) => {
    if (!stopping) {
      process.stderr.write(`topology ${def.name} stopped with ${code}\n`);
      void stopAll(code || 1);
    }
  });
}
process.stdout.write('ready\n');
