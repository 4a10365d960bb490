import type { Config } from '../config/config.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { TopologyDefinition } from '../topology/types.ts';
import { localHttpBase } from './localHttpBase.ts';
import type { SignalSource } from './observation.ts';
import { consumerLagSignal } from './signals/consumerLagSignal.ts';
import { dlqRateSignal } from './signals/dlqRateSignal.ts';
import { freshnessSignal } from './signals/freshnessSignal.ts';
import { qualityScoresSignal } from './signals/qualitySignal.ts';
import { readinessSignal } from './signals/readinessSignal.ts';
import { throttled } from './signals/throttled.ts';
import { warehouseTestSignal } from './signals/warehouseTestSignal.ts';

/** The /readyz URLs watched: SLUICE_ALERT_READYZ_URLS, else the local runner's. */
export function readyzUrlsOf(cfg: Config): string[] {
  const listed = cfg.alertReadyzUrls
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  return listed.length ? listed : [`${localHttpBase(cfg)}/readyz`];
}

/** The consumer groups of the runners: `sluice-<topology>` (the runner's default group id). */
export function runnerGroupsOf(topologies: readonly TopologyDefinition[]): string[] {
  return topologies.map((t) => `sluice-${t.name}`);
}

/**
 * Every signal source of the enabled rules (SLUICE_ALERT_RULES), configured from the settings.
 *
 * @example defaultSignalSources(cfg, kafka, Object.values(TOPOLOGIES))
 */
export function defaultSignalSources(
  cfg: Config,
  kafka: KafkaClient,
  topologies: readonly TopologyDefinition[],
): SignalSource[] {
  const all: SignalSource[] = [
    freshnessSignal(cfg, { kafka }),
    qualityScoresSignal(cfg, { kafka, topologies, window: cfg.alertQualityWindow }),
    dlqRateSignal({ kafka, ratePerMinute: cfg.alertDlqRatePerMinute, windowMs: cfg.alertDlqWindowMs }),
    consumerLagSignal({ kafka, groups: runnerGroupsOf(topologies), growingForMs: cfg.alertLagGrowingForMs }),
    readinessSignal({ urls: readyzUrlsOf(cfg) }),
    // As often as `sluice run` runs them (SLUICE_WAREHOUSE_TESTS_INTERVAL_MS), not at every evaluation.
    throttled(warehouseTestSignal(cfg), cfg.warehouseTestsIntervalMs),
  ];
  const enabled = new Set(cfg.alertRules);
  return all.filter((s) => s.rules.some((r) => enabled.has(r)));
}
