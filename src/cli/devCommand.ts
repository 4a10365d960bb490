import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { formatStatus, stackDown, stackStatus, stackUpOrCleanUp } from '../stack/stack.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Registers `dev up|down|status`: the embedded local stack. */
export function devCommand(program: Command): void {
  const dev = program
    .command('dev')
    .description('The embedded local stack: Kafka, schema registry, S3, Postgres (no Docker)');
  dev
    .command('up')
    .description('Start every service not already running and wait until each is ready (idempotent)')
    .option(
      '--secure',
      'Kafka on SASL_SSL (SCRAM-SHA-512), registry basic auth, Postgres TLS; later commands in this stack directory connect that way',
    )
    .action(async (opts: { secure?: boolean }) => {
      if (opts.secure) process.env.SLUICE_STACK_SECURE = 'true';
      const cfg = loadConfig();
      const t0 = Date.now();
      const rows = await stackUpOrCleanUp(cfg, say);
      say(formatStatus(rows));
      say(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    });
  dev
    .command('down')
    .description('Stop the services that `dev up` started (others are left alone)')
    .action(async () => {
      const stopped = await stackDown(loadConfig(), say);
      say(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing to stop');
    });
  dev
    .command('status')
    .description('Each service, its port and health; exit code 1 if any is not healthy')
    .action(async () => {
      const rows = await stackStatus(loadConfig());
      say(formatStatus(rows));
      if (rows.some((r) => !r.healthy)) process.exitCode = 1;
    });
}
