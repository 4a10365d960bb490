import net from 'node:net';
import pg from 'pg';
import { type Config, pgConnection } from '../config/config.ts';
import { type ErrorCode, SluiceError } from '../core/errors.ts';

/**
 * Before a one-shot command talks to a service: is anything listening where the configuration
 * says it is? Without this, an unreachable broker meant a minute of client retries, hundreds of
 * log lines and an error that blamed a "briefly unavailable" broker. The runner does not ask:
 * it retries, because a long-running process outlives an outage.
 */

export type Service = 'kafka' | 'registry' | 's3' | 'postgres';

interface Endpoint {
  name: string;
  setting: string;
  code: ErrorCode;
  addresses: { host: string; port: number }[];
}

const CONNECT_TIMEOUT_MS = 3000;

/** Where each service is, from the configuration (S3 on AWS: nothing to check). */
function endpointOf(cfg: Config, service: Service): Endpoint | undefined {
  switch (service) {
    case 'kafka':
      return {
        name: 'Kafka',
        setting: 'SLUICE_KAFKA_BROKERS',
        code: 'KAFKA_CONNECT_FAILED',
        addresses: cfg.kafkaBrokers.split(',').map(hostPort),
      };
    case 'registry':
      return {
        name: 'the schema registry',
        setting: 'SLUICE_REGISTRY_URL',
        code: 'REGISTRY_UNAVAILABLE',
        addresses: [urlHostPort(cfg.registryUrl)],
      };
    case 's3':
      if (!cfg.s3Endpoint) return undefined;
      return {
        name: 'S3',
        setting: 'SLUICE_S3_ENDPOINT',
        code: 'S3_REQUEST_FAILED',
        addresses: [urlHostPort(cfg.s3Endpoint)],
      };
    case 'postgres':
      return {
        name: 'Postgres',
        setting: 'SLUICE_PG_HOST / SLUICE_PG_PORT',
        code: 'PG_UNREACHABLE',
        addresses: [{ host: cfg.pgHost, port: cfg.pgPort }],
      };
  }
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

function urlHostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}

/** Why a TCP connection to `host:port` fails, or undefined when it opens. */
function connectProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(
        err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOTFOUND' ? 'unknown host' : err.message,
      ),
    );
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Throws a coded error naming the service, its setting and address when none of its addresses
 * accepts a connection; for a loopback address it says how to start the local stack.
 *
 * @example await requireServices(cfg, ['kafka', 'registry']);
 */
export async function requireServices(cfg: Config, services: Service[]): Promise<void> {
  for (const service of services) {
    const e = endpointOf(cfg, service);
    if (!e) continue;
    const problems = await Promise.all(e.addresses.map((a) => connectProblem(a.host, a.port)));
    if (problems.some((p) => p === undefined)) {
      if (service === 'postgres') await requirePostgresLogin(cfg);
      continue;
    }
    const where = e.addresses.map((a) => `${a.host}:${a.port}`).join(', ');
    const local = e.addresses.every((a) => LOOPBACK.has(a.host));
    throw new SluiceError(
      e.code,
      `cannot reach ${e.name} at ${where} (${e.setting}): ${problems[0]}` +
        (local ? '; if it is the local stack, start it with `sluice dev up`' : ''),
    );
  }
}

/**
 * Postgres answers: does it take Sluice's login (password, TLS)? A refusal there would otherwise
 * surface deep inside a command as a query error.
 */
async function requirePostgresLogin(cfg: Config): Promise<void> {
  const client = new pg.Client({ ...pgConnection(cfg, cfg.oltpDatabase), connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // 28000: no pg_hba.conf entry (e.g. TLS required), 28P01: wrong password; TLS failures have no code.
    const refused = e.code === '28P01' || e.code === '28000' || /SSL|certificate|self.signed/i.test(e.message ?? '');
    if (!refused) return; // a missing database and the like are the command's to report
    const as = `user ${cfg.pgUser}, SLUICE_PG_SSLMODE=${cfg.pgSslMode}`;
    const message = `Postgres at ${cfg.pgHost}:${cfg.pgPort} refused the login (${as}): ${e.message}`;
    throw new SluiceError('PG_AUTH_FAILED', message, { cause: err });
  } finally {
    await client.end().catch(() => {});
  }
}
