import path from 'node:path';
import type { Config } from '../config/config.ts';

/** One service of the local stack: how to start it detached and how to tell it is really ready. */
export interface StackService {
  name: string;
  port(cfg: Config): number;
  /** Fetch artifacts if needed, prepare data, start the daemon; returns its pid. No waiting. */
  start(cfg: Config, paths: ServicePaths): Promise<number>;
  /** A real readiness check (a request the service must answer), not an open port. */
  healthy(cfg: Config): Promise<boolean>;
  /** Stops the daemon this stack started (pid file); services we did not start are left alone. */
  stop?(cfg: Config, paths: ServicePaths): Promise<boolean>;
  startTimeoutMs: number;
}

export interface ServicePaths {
  dir: string;
  logFile: string;
  pidFile: string;
}

export function servicePaths(cfg: Config, name: string): ServicePaths {
  const dir = path.join(cfg.stackDir, name);
  return {
    dir,
    logFile: path.join(cfg.stackDir, 'logs', `${name}.log`),
    pidFile: path.join(cfg.stackDir, 'pids', `${name}.pid`),
  };
}
