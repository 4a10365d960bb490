/**
 * The CDC source in a child process, for the test that SIGKILLs it:
 * `node cdcChild.ts '<PostgresCdcSourceInput as JSON>'`. Prints `streaming` once changes flow;
 * SIGTERM stops it gracefully; a fatal error exits 1.
 */
import { loadConfig } from '../../../src/config/config.ts';
import { createPostgresCdcSource } from '../../../connectors/postgres/cdc/source.ts';

const cdc = createPostgresCdcSource(loadConfig(), JSON.parse(process.argv[2]));
process.on('SIGTERM', () => void cdc.stop().then(() => process.exit(0)));
await cdc.start();
process.stdout.write('streaming\n');
await cdc.done.then(
  () => process.exit(0),
  () => process.exit(1),
);
