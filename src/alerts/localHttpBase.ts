import type { Config } from '../config/config.ts';

/**
 * The local runner's HTTP address from SLUICE_HTTP_HOST and SLUICE_HTTP_PORT, as a client reaches
 * it (a wildcard bind is reached on loopback): what incident links and the `/readyz` probe default to.
 *
 * @example localHttpBase(cfg) // 'http://127.0.0.1:8080'
 */
export function localHttpBase(cfg: Pick<Config, 'httpHost' | 'httpPort'>): string {
  const host = cfg.httpHost === '0.0.0.0' || cfg.httpHost === '::' ? '127.0.0.1' : cfg.httpHost;
  return `http://${host.includes(':') ? `[${host}]` : host}:${cfg.httpPort}`;
}
