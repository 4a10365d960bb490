import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { secureMarkerFile } from '../config/stackFiles.ts';
import { SluiceError, asSluiceError } from '../core/errors.ts';
import { ensureStackSecret } from './secrets.ts';
import { ensureStackTls } from './stackTls.ts';
import { isAlive, portOpen, readPid, stopPid, waitUntil } from './processes.ts';
import { servicePaths, type StackService } from './service.ts';
import { kafkaService } from './services/kafkaService.ts';
import { postgresService } from './services/postgresService.ts';
import { registryService } from './services/registryService.ts';
import { s3Service } from './services/s3Service.ts';

/**
 * `sluice dev up | down | status`: the embedded local stack for machines without Docker.
 * `up` is idempotent and leaves alone a healthy service it did not start (an external Kafka on
 * the same port, say); `down` stops only what `up` started, known by its pid file.
 */

export const STACK_SERVICES: StackService[] = [postgresService, kafkaService, registryService, s3Service];

export interface ServiceStatus {
  name: string;
  port: number;
  state: 'running' | 'external' | 'stopped' | 'unhealthy';
  healthy: boolean;
  pid?: number;
  logFile: string;
}

async function healthy(service: StackService, cfg: Config): Promise<boolean> {
  return service.healthy(cfg).catch(() => false);
}

export async function serviceStatus(service: StackService, cfg: Config): Promise<ServiceStatus> {
  const paths = servicePaths(cfg, service.name);
  const pid = readPid(paths.pidFile);
  const alive = pid !== undefined && isAlive(pid);
  const ok = await healthy(service, cfg);
  const state = ok ? (alive ? 'running' : 'external') : alive ? 'unhealthy' : 'stopped';
  return {
    name: service.name,
    port: service.port(cfg),
    state,
    healthy: ok,
    pid: alive ? pid : undefined,
    logFile: paths.logFile,
  };
}

export async function stackStatus(cfg: Config): Promise<ServiceStatus[]> {
  return Promise.all(STACK_SERVICES.map((s) => serviceStatus(s, cfg)));
}

async function upOne(
  service: StackService,
  cfg: Config,
  report: (line: string) => void,
  onStarted: (name: string) => void,
): Promise<ServiceStatus> {
  const paths = servicePaths(cfg, service.name);
  mkdirSync(path.dirname(paths.pidFile), { recursive: true });
  const started = Date.now();
  const pid = readPid(paths.pidFile);
  const ours = pid !== undefined && isAlive(pid);
  if (await healthy(service, cfg)) return serviceStatus(service, cfg);
  if (!ours) {
    if (await portOpen(service.port(cfg))) {
      const taken = `port ${service.port(cfg)} is taken by another program`;
      throw new SluiceError('STACK_PORT_IN_USE', `${service.name}: ${taken} that does not answer as ${service.name}`);
    }
    report(`${service.name}: starting on port ${service.port(cfg)} (log ${paths.logFile})`);
    onStarted(service.name); // before start(): a start that fails half-way may still leave a process to stop
    try {
      await service.start(cfg, paths);
    } catch (err) {
      // The code of the cause (a fetch that failed, a missing program) with the log to read.
      const cause = asSluiceError(err, 'STACK_START_FAILED');
      const message = `${service.name} did not start: ${cause.message}\n  log: ${paths.logFile}`;
      throw new SluiceError(cause.shortCode, message, {
        cause: err,
        details: { service: service.name, log: paths.logFile },
      });
    }
  }
  const newPid = readPid(paths.pidFile);
  await waitUntil(
    () => service.healthy(cfg),
    `${service.name} (log ${paths.logFile}${tailOf(paths.logFile)})`,
    service.startTimeoutMs,
    () => newPid !== undefined && !isAlive(newPid),
  );
  report(`${service.name}: ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return serviceStatus(service, cfg);
}

function tailOf(file: string): string {
  if (!existsSync(file)) return '';
  const lines = readFileSync(file, 'utf8').trim().split('\n').slice(-5);
  return lines.length ? `; last lines:\n    ${lines.join('\n    ')}` : '';
}

/**
 * `dev up --secure`: the secrets and TLS material the secured services and their clients use,
 * and the marker that makes every later command in this stack directory connect the secured way.
 */
function secureStack(stackDir: string): void {
  for (const name of ['kafka-password', 'kafka-admin-password', 'registry-password'] as const)
    ensureStackSecret(stackDir, name);
  ensureStackTls(stackDir);
  mkdirSync(stackDir, { recursive: true });
  writeFileSync(secureMarkerFile(stackDir), 'created by `sluice dev up --secure`\n');
}

/**
 * Starts every service not already up, in parallel, and waits until each is really ready.
 * `onStarted` hears each service this call starts (not those already up), also when `up` fails
 * later, so a command can stop exactly what it started.
 */
export async function stackUp(
  cfg: Config,
  report: (line: string) => void = () => {},
  opts: { onStarted?: (service: string) => void } = {},
): Promise<ServiceStatus[]> {
  ensureStackSecret(cfg.stackDir, 'feed-token'); // every secret the configuration table says `dev up` generates
  ensureStackSecret(cfg.stackDir, 'pii-key');
  if (cfg.stackSecure) secureStack(cfg.stackDir);
  const results = await Promise.allSettled(
    STACK_SERVICES.map((s) => upOne(s, cfg, report, opts.onStarted ?? (() => {}))),
  );
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    const err = failed[0].reason;
    throw failed.length === 1
      ? err
      : new SluiceError('STACK_START_FAILED', failed.map((f) => String(f.reason?.message ?? f.reason)).join('\n'), {
          cause: err,
        });
  }
  return results.map((r) => (r as PromiseFulfilledResult<ServiceStatus>).value);
}

/**
 * `dev up` for a person: a start that fails stops the services this call started (a stack that
 * was already up is left alone), so nothing holds the ports afterwards, and the error names the
 * log of the service that failed.
 */
export async function stackUpOrCleanUp(cfg: Config, report: (line: string) => void): Promise<ServiceStatus[]> {
  const started: string[] = [];
  try {
    return await stackUp(cfg, report, { onStarted: (service) => started.push(service) });
  } catch (err) {
    if (started.length) {
      report(`start failed; stopping the services this start brought up (${started.join(', ')})`);
      await stackDown(cfg, report, { only: started }).catch(() => {});
    }
    throw err;
  }
}

/** Stops what `up` started (or only the services named in `only`), in reverse order; returns the names stopped. */
export async function stackDown(
  cfg: Config,
  report: (line: string) => void = () => {},
  opts: { only?: readonly string[] } = {},
): Promise<string[]> {
  const stopped: string[] = [];
  for (const service of [...STACK_SERVICES].reverse()) {
    if (opts.only && !opts.only.includes(service.name)) continue;
    const paths = servicePaths(cfg, service.name);
    const pid = readPid(paths.pidFile);
    if (pid === undefined) continue;
    const did = service.stop ? await service.stop(cfg, paths) : await stopPid(paths.pidFile);
    if (did) {
      stopped.push(service.name);
      report(`${service.name}: stopped`);
    }
  }
  return stopped;
}

export function formatStatus(rows: ServiceStatus[]): string {
  const head = ['service', 'port', 'state', 'healthy', 'pid', 'log'];
  const body = rows.map((r) => [
    r.name,
    String(r.port),
    r.state,
    r.healthy ? 'yes' : 'no',
    r.pid ? String(r.pid) : '-',
    r.logFile,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body]
    .map((cols) =>
      cols
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
