import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { formatStatus, stackUp } from '../stack/stack.ts';
import { runSmokeRoundTrip } from '../demo/smokeRoundTrip.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);

export function demoCommand(program: Command): void {
  program.command('demo').description('Bring up the local stack and run the main job on it, printing where everything goes')
    .option('--records <n>', 'records in the smoke round-trip', '1000')
    .action(async (opts: { records: string }) => {
      const cfg = loadConfig();
      say('== local stack');
      say(formatStatus(await stackUp(cfg, say)));
      say('== smoke round-trip: Avro records → Kafka → consumer group → S3 lake + Postgres warehouse');
      const result = await runSmokeRoundTrip(cfg, { records: Number(opts.records) }, say);
      say(JSON.stringify(result, null, 2));
    });
}
