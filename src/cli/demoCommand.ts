import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../core/log.ts';
import { parseDuration } from '../core/pacing.ts';
import { formatStatus, stackDown, stackUp } from '../stack/stack.ts';
import { runDemo } from '../shop/demo/runDemo.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
const log = createLogger('demo');

/** Registers `demo`: the local stack up, then `runDemo`; a failed demo stops what it started. */
export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'The main job on the local stack: seed the shop, generate clicks and orders, run every topology with ' +
        'the dashboard, then show what landed where',
    )
    .option('--duration <d>', 'how long to run (e.g. 90s, 10m; 0 = until Ctrl-C)', '90s')
    .option('--clicks <n>', 'clickstream events per second', '200')
    .option('--oltp-rate <n>', 'shop database changes per second', '20')
    .option('--bad-ratio <r>', 'share of bad records the rules and the DLQ must catch', '0.05')
    .option('--extract-every <d>', 'how often the database is extracted into Kafka', '15s')
    .action(
      async (opts: { duration: string; clicks: string; oltpRate: string; badRatio: string; extractEvery: string }) => {
        const cfg = loadConfig();
        const started: string[] = [];
        try {
          say('== local stack');
          say(formatStatus(await stackUp(cfg, say, { onStarted: (service) => started.push(service) })));
          say('== demo');
          await runDemo(
            cfg,
            {
              durationMs: opts.duration === '0' ? 0 : parseDuration(opts.duration),
              clicksPerSecond: Number(opts.clicks),
              oltpChangesPerSecond: Number(opts.oltpRate),
              badRatio: Number(opts.badRatio),
              extractEveryMs: parseDuration(opts.extractEvery),
            },
            say,
          );
        } catch (err) {
          // A failed demo leaves nothing of its own running: the services it brought up stop; a
          // stack that was already up (another demo, `sluice dev up`) is not ours to stop.
          if (started.length) {
            say(`== the demo failed; stopping the services it started (${started.join(', ')})`);
            await stackDown(cfg, say, { only: started }).catch((e) =>
              log.error({ err: String(e) }, 'stopping the local stack failed'),
            );
          }
          throw err;
        }
      },
    );
}
