import type { Command } from 'commander';
import { TOPOLOGIES } from '../../topologies/index.ts';
import { ALERT_RULES } from '../alerts/alertRules.ts';
import { startAlertEvaluator } from '../alerts/alertEvaluator.ts';
import { defaultSignalSources } from '../alerts/signalSources.ts';
import { loadConfig } from '../config/config.ts';
import { parseDuration } from '../core/pacing.ts';
import { SluiceError } from '../core/errors.ts';
import { createKafkaClient } from '../kafka/createKafkaClient.ts';
import { exitAfterOutput } from './exitAfterOutput.ts';
import { requireServices } from './requireServices.ts';

/**
 * `sluice alerts`: the one alert evaluator of a cluster (see the README, Alerts and incidents).
 * Runs until SIGINT/SIGTERM; `--once` evaluates once (restoring and writing like the loop) and exits.
 */
export function alertsCommand(program: Command): void {
  program
    .command('alerts')
    .description(
      'The alert evaluator: rules over freshness, quality, DLQ rate, consumer lag, /readyz and warehouse tests ' +
        'open, update and resolve incidents on the incidents topic and POST them to webhooks',
    )
    .option('--interval <duration>', 'time between evaluations (default: SLUICE_ALERTS_INTERVAL_MS)')
    .option(
      '--once',
      'evaluate once, print the changes and exit (rules that compare samples over time, DLQ rate and lag growth, ' +
        'need the loop)',
    )
    .addHelpText(
      'after',
      `\nRules:\n${ALERT_RULES.map((r) => `  ${r.name} (${r.severity}): ${r.condition}`).join('\n')}\n`,
    )
    .action(async (flags: { interval?: string; once?: boolean }) => {
      const cfg = loadConfig();
      let intervalMs = cfg.alertsIntervalMs;
      if (flags.interval !== undefined) {
        try {
          intervalMs = parseDuration(flags.interval);
        } catch (err) {
          throw new SluiceError('CLI_USAGE', `--interval: ${(err as Error).message}`);
        }
        if (intervalMs < 100) throw new SluiceError('CLI_USAGE', '--interval: at least 100ms');
      }
      await requireServices(cfg, ['kafka']);
      const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-alerts`, { quiet: true });
      const sources = defaultSignalSources(cfg, kafka, Object.values(TOPOLOGIES));
      const evaluator = await startAlertEvaluator(cfg, {
        kafka,
        sources,
        intervalMs,
        loop: !flags.once,
      });
      if (flags.once) {
        const changes = await evaluator.evaluateNow();
        for (const c of changes) process.stdout.write(`${c.kind} ${c.incident.key}: ${c.incident.summary}\n`);
        const open = evaluator.incidents().filter((i) => i.status === 'open').length;
        process.stdout.write(`${changes.length} changes, ${open} open incidents on ${cfg.incidentsTopic}\n`);
        await evaluator.stop();
        return;
      }
      process.stdout.write(
        `sluice alerts: ${sources.map((s) => s.name).join(', ')} every ${intervalMs / 1000} s → ${cfg.incidentsTopic}` +
          `, ${cfg.alertWebhooks.length} webhook(s)\n`,
      );
      const onSignal = () => void evaluator.stop();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      await exitAfterOutput(await evaluator.done);
    });
}
