import { TOPOLOGIES } from '../../topologies/index.ts';
import type { Config } from '../config/config.ts';
import { errorCode, isSluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { createKafkaClient } from '../kafka/createKafkaClient.ts';
import { startAlertEvaluator } from './alertEvaluator.ts';
import { defaultSignalSources } from './signalSources.ts';

const log = createLogger('demo');

/**
 * `sluice demo`'s alert evaluator: the one `sluice alerts` would be, in-process, first evaluating
 * one interval after start (the demo's runner comes up meanwhile). It never fails the demo: an
 * evaluator that cannot start is logged and left out. `stop` prints how many incidents are open.
 *
 * @example
 *   const alerts = await startDemoAlerts(cfg, say);
 *   await runDemo(cfg, opts, say).finally(() => alerts.stop());
 */
export async function startDemoAlerts(cfg: Config, say: (line: string) => void): Promise<{ stop(): Promise<void> }> {
  try {
    const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-alerts`, { quiet: true });
    const evaluator = await startAlertEvaluator(cfg, {
      kafka,
      sources: defaultSignalSources(cfg, kafka, Object.values(TOPOLOGIES)),
      startDelayMs: cfg.alertsIntervalMs,
    });
    say(
      `alerts         every ${cfg.alertsIntervalMs / 1000} s → ${cfg.incidentsTopic} (Incidents panel; \`sluice incidents\`)`,
    );
    return {
      async stop() {
        await evaluator.stop();
        const open = evaluator.incidents().filter((i) => i.status === 'open');
        say(`incidents      ${open.length} open${open.length ? `: ${open.map((i) => i.key).join(', ')}` : ''}`);
      },
    };
  } catch (err) {
    log.error(
      { code: isSluiceError(err) ? err.code : errorCode('KAFKA_CONNECT_FAILED'), err: (err as Error).message },
      'alert evaluator not started',
    );
    return { stop: async () => {} };
  }
}
