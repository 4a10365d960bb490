import type { Command } from 'commander';
import { dashboardLine, feedTokenOf } from '../feed/feedToken.ts';
import { loadConfig } from '../config/config.ts';
import { startFeedServer } from '../feed/feedServer.ts';
import { portNumber } from './argParsers.ts';

/**
 * `sluice feed`: the WebSocket live metrics feed (`/ws`) and the dashboard (`/`) on their own,
 * without topologies. It serves every `metrics.*` topic, whichever runners compute them, so it can
 * run next to a group of `sluice run --no-feed` processes.
 */

/** Registers `feed`. */
export function feedCommand(program: Command): void {
  program
    .command('feed')
    .description(
      'The live metrics feed (/ws) and dashboard (/) on their own, serving every metrics.* topic; ' +
        'also /metrics, /healthz, /readyz',
    )
    .option('--host <address>', 'bind address (default: SLUICE_HTTP_HOST)')
    .option('--port <n>', 'port (default: SLUICE_HTTP_PORT; 0 picks a free one)', portNumber)
    .action(async (opts: { host?: string; port?: number }) => {
      const cfg = loadConfig();
      const srv = await startFeedServer(cfg, { host: opts.host, port: opts.port });
      const token = feedTokenOf(cfg);
      const feedUrl = `${srv.url.replace(/^http/, 'ws')}/ws${token ? ' (bearer token required)' : ''}`;
      process.stdout.write(`sluice feed: dashboard ${dashboardLine(srv.url, cfg)} — feed ${feedUrl}\n`);
      let signalled = false;
      const onSignal = (sig: string) => {
        if (signalled) return;
        signalled = true;
        process.stderr.write(`${sig}: closing the feed...\n`);
        void srv.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      await new Promise(() => {});
    });
}
