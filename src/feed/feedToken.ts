import { existsSync, readFileSync } from 'node:fs';
import { type Config, stackSecretFile } from '../config/config.ts';
import { ensureStackSecret } from '../stack/secrets.ts';

/**
 * The bearer token the live feed requires: SLUICE_FEED_TOKEN (or its _FILE) when set — set empty,
 * no token —, else the one generated into the stack directory by `dev up` or by the first feed
 * that starts, so a feed is never open by default. The local user gets it in the dashboard URL
 * that `run`, `feed` and `demo` print.
 */
export function feedTokenOf(cfg: Config): string {
  return cfg.feedToken ?? ensureStackSecret(cfg.stackDir, 'feed-token');
}

/** The dashboard's address with the token the page passes on to the feed (`?token=`). */
export function dashboardUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

/**
 * The dashboard address to print: with its token for the person at a terminal; without it when
 * stdout is not a terminal (a container's or a service's output ends up in logs, and secrets are
 * never logged), naming where the token is instead.
 */
export function dashboardLine(baseUrl: string, cfg: Config, tty = process.stdout.isTTY === true): string {
  const token = feedTokenOf(cfg);
  if (!token || tty) return dashboardUrl(baseUrl, token);
  const file = stackSecretFile(cfg.stackDir, 'feed-token');
  const generated = existsSync(file) && readFileSync(file, 'utf8').trim() === token;
  const where = generated ? ` in ${file}` : '';
  return `${dashboardUrl(baseUrl, '')}?token=<the feed token${where}>`;
}
