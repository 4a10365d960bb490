import { readFileSync } from 'node:fs';
import type { BaseOptions, SASLMechanismValue } from '@platformatic/kafka';
import { type Config, secretOf } from '../../config/config.ts';

/** Settings shared by every client of a `createPlatformaticClient`. */
export interface PlatformaticClientSettings {
  clientId: string;
  /** How often a failed operation is retried (kafkajs' `retry.retries`, default 8). */
  retries: number;
}

/** Backoff between retries: kafkajs' defaults as Sluice sets them (200 ms doubling up to 5 s), with jitter. */
export const RETRY_INITIAL_MS = 200;
export const RETRY_MAX_MS = 5000;

/**
 * The delay before retry `attempt` (1-based): exponential from `RETRY_INITIAL_MS`, capped at
 * `RETRY_MAX_MS`, times a random factor in [0.8, 1.2] like kafkajs' retrier, so that clients
 * failing together do not retry in lockstep. @platformatic/kafka's own default is a flat second.
 *
 * @example
 *   retryDelay(null, 'fetch', 3); // about 800 ms
 */
export function retryDelay(_client: unknown, _operation: string, attempt: number): number {
  const base = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * The connection options of every @platformatic/kafka client Sluice creates: brokers, TLS, SASL,
 * kafkajs' connect timeout (3 s) and request timeout (30 s), and Sluice's retry policy. `timeout`
 * is also what @platformatic/kafka sends as a produce timeout and as a transaction's timeout.
 *
 * @example
 *   new Admin(baseOptions(cfg, { clientId: 'sluice-admin', retries: 8 }));
 */
export function baseOptions(cfg: Config, settings: PlatformaticClientSettings): BaseOptions {
  return {
    clientId: settings.clientId,
    bootstrapBrokers: cfg.kafkaBrokers.split(','),
    connectTimeout: 3000,
    requestTimeout: 30_000,
    timeout: 30_000,
    retries: settings.retries,
    retryDelay,
    // Metadata is refreshed on errors anyway; kafkajs keeps it 5 minutes, this 5 s default is chatty.
    metadataMaxAge: 30_000,
    autocreateTopics: false,
    ...(cfg.kafkaSsl ? { tls: cfg.kafkaSslCaFile ? { ca: readFileSync(cfg.kafkaSslCaFile, 'utf8') } : {} } : {}),
    ...(cfg.kafkaSaslMechanism
      ? {
          sasl: {
            mechanism: cfg.kafkaSaslMechanism.toUpperCase() as SASLMechanismValue,
            username: cfg.kafkaSaslUsername,
            password: secretOf(cfg, 'kafkaSaslPassword'),
          },
        }
      : {}),
  };
}
