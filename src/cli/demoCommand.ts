import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { loadConfig, type Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { createLogger, redirectLogs } from '../core/log.ts';
import { parseDuration } from '../core/pacing.ts';
import { formatStatus, stackDown, stackUp } from '../stack/stack.ts';
import { runDemo } from '../shop/demo/runDemo.ts';
import { closingLines } from '../shop/demo/demoReport.ts';
import { startDemoAlerts } from '../alerts/demoAlerts.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
const log = createLogger('demo');

interface DemoFlags {
  duration: string;
  clicks: string;
  oltpRate: string;
  badRatio: string;
  extractEvery: string;
  logFormat?: string;
}

/**
 * Where the demo's JSON log lines go: `text` (the default when stdout or stderr is a terminal)
 * keeps the terminal for people and writes them to `<stack dir>/logs/demo.log`, echoing only
 * errors; `json` (the default otherwise: CI, `2>&1 | tee`) leaves them on stderr as every other
 * command does.
 */
function routeLogs(cfg: Config, format: string | undefined): { logFile?: string; restore: () => void } {
  const chosen = format ?? (process.stdout.isTTY || process.stderr.isTTY ? 'text' : 'json');
  if (chosen === 'json') return { restore: () => {} };
  if (chosen !== 'text')
    throw new SluiceError('CLI_USAGE', `--log-format must be text or json, not ${JSON.stringify(format)}`);
  const logFile = path.join(cfg.stackDir, 'logs', 'demo.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  const file = pino.destination({ dest: logFile, append: false, sync: true });
  const restore = redirectLogs({
    write: (line: string) => {
      file.write(line);
      const echoed = errorLine(line);
      if (echoed) process.stderr.write(`${echoed} (details in ${logFile})\n`);
    },
  });
  return { logFile, restore };
}

/** A short line for a fatal log line, or an error of the demo or the runner; undefined otherwise. */
export function errorLine(json: string): string | undefined {
  try {
    const { level, component, msg, err } = JSON.parse(json) as Record<string, unknown>;
    if (typeof level !== 'number' || level < 50) return undefined;
    if (level < 60 && component !== 'demo' && component !== 'runner') return undefined;
    const detail = typeof err === 'string' ? `: ${err}` : '';
    return `${level >= 60 ? 'fatal' : 'error'} (${component}): ${msg}${detail}`;
  } catch {
    return undefined;
  }
}

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
    .option(
      '--log-format <format>',
      'text: people lines here, JSON logs in <stack dir>/logs/demo.log (default on a terminal); ' +
        'json: JSON log lines on stderr too (default when neither stdout nor stderr is a terminal)',
    )
    .action(async (opts: DemoFlags) => {
      const cfg = loadConfig();
      const { logFile, restore } = routeLogs(cfg, opts.logFormat);
      const started: string[] = [];
      try {
        if (logFile) say(`logs: ${logFile}`);
        say('== local stack');
        say(formatStatus(await stackUp(cfg, say, { onStarted: (service) => started.push(service) })));
        say('== demo');
        // The alert evaluator beside the demo's runner, as `sluice alerts` would run it.
        const alerts = await startDemoAlerts(cfg, say);
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
        ).finally(() => alerts.stop());
        for (const line of closingLines(logFile)) say(line);
      } catch (err) {
        // A failed demo leaves nothing of its own running: the services it brought up stop; a
        // stack that was already up (another demo, `sluice dev up`) is not ours to stop.
        if (started.length) {
          say(`== the demo failed; stopping the services it started (${started.join(', ')})`);
          await stackDown(cfg, say, { only: started }).catch((e) =>
            log.error({ err: String(e) }, 'stopping the local stack failed'),
          );
        }
        if (logFile) say(`logs: ${logFile}`);
        throw err;
      } finally {
        restore();
      }
    });
}
