import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '../core/errors.ts';

/** Process plumbing for the local stack: detached daemons with pid and log files. */

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A process that has exited but was not yet reaped by its parent still answers signal 0. The
 * services `npm test` starts are its children: a SIGKILLed broker stayed a zombie and counted as
 * running (the broker-restart test waited for it to die forever).
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (not Linux) or gone meanwhile
  }
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0], 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Starts `command` detached from this process, its output appended to `logFile`, its pid written to `pidFile`. */
export function spawnDaemon(
  command: string,
  args: string[],
  opts: { logFile: string; pidFile: string; cwd?: string; env?: NodeJS.ProcessEnv },
): number {
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined)
      throw new SluiceError('STACK_START_FAILED', `could not start ${command}; see ${opts.logFile}`);
    child.unref();
    writeFileSync(opts.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Removes the pid file. */
export async function stopPid(pidFile: string, graceMs = 20_000): Promise<boolean> {
  const pid = readPid(pidFile);
  if (pid === undefined) return false;
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    while (isAlive(pid)) await sleep(50);
  }
  rmSync(pidFile, { force: true });
  return true;
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls `check` until it resolves true; throws with `what` and the log file after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
  isDead?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (isDead?.()) throw new SluiceError('STACK_START_FAILED', `${what}: the process exited during start-up`);
    if (Date.now() > deadline)
      throw new SluiceError('STACK_START_FAILED', `${what}: not ready after ${timeoutMs / 1000}s`);
    await sleep(250);
  }
}

/** Fails with one clear line when a program the stack needs is not on PATH. */
export function requireProgram(program: string, installHint: string): void {
  const res = spawnSync(program, ['-version'], { stdio: 'ignore' });
  if (res.error)
    throw new SluiceError('STACK_PREREQUISITE_MISSING', `${program} not found on PATH: install ${installHint}`);
}

export function run(
  command: string,
  args: string[],
  opts: { cwd?: string; what: string; code?: 'STACK_FETCH_FAILED' | 'STACK_START_FAILED'; secretArgs?: boolean },
): void {
  const res = spawnSync(command, args, { cwd: opts.cwd, encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    const tail = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    const code = opts.code ?? 'STACK_FETCH_FAILED';
    const argv = opts.secretArgs ? command : `${command} ${args.join(' ')}`; // arguments with passwords stay out
    throw new SluiceError(code, `${opts.what} failed (${argv}):\n${tail}`, {
      cause: res.error,
    });
  }
}
