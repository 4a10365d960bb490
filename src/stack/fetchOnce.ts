import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../core/errors.ts';
import { isAlive } from './processes.ts';

/** How long a first run waits for another process fetching the same artifact. */
const LOCK_WAIT_MS = 20 * 60_000;
const POLL_MS = 250;

/**
 * Fills the cache directory `dir` once, safely when several processes start at the same time on
 * an empty cache (two first `dev up`s, a demo and a test run):
 * - one fetches at a time, holding `<dir>.lock` (a directory: `mkdir` is atomic) with its pid
 *   inside; the others wait for it and then find `dir` complete;
 * - each fetch writes into a temp directory of its own (`<dir>.partial-<pid>-<random>`) and
 *   renames it into place, so a half-fetched cache is never taken for a complete one;
 * - a lock whose holder died is taken over, and temp directories left by a killed fetch removed.
 * Synchronous like the fetch itself (Maven runs through spawnSync).
 */
export function fetchOnce(dir: string, fetch: (tmp: string) => void, opts: { lockWaitMs?: number } = {}): string {
  if (existsSync(dir)) return dir;
  const lock = `${dir}.lock`;
  mkdirSync(path.dirname(dir), { recursive: true });
  if (!acquire(lock, dir, opts.lockWaitMs ?? LOCK_WAIT_MS)) return dir; // another process fetched it
  try {
    if (existsSync(dir)) return dir; // fetched by the holder we waited for
    removeLeftovers(dir);
    const tmp = `${dir}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
    mkdirSync(tmp);
    try {
      fetch(tmp);
      renameSync(tmp, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Takes the lock (true), or finds `dir` complete while waiting for it (false). */
function acquire(lock: string, dir: string, waitMs: number): boolean {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), `${process.pid}\n`);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (existsSync(dir)) return false;
    const holder = lockHolder(lock);
    if (holder === undefined ? olderThan(lock, 10_000) : !isAlive(holder)) {
      rmSync(lock, { recursive: true, force: true }); // its holder died mid-fetch
      continue;
    }
    if (Date.now() > deadline) {
      const waited = `waited ${Math.round(waitMs / 1000)}s for process ${holder}`;
      throw new SluiceError('STACK_FETCH_FAILED', `${waited} fetching ${path.basename(dir)} (${lock})`);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, POLL_MS);
  }
}

function lockHolder(lock: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(lock, 'pid'), 'utf8'), 10);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined; // just created, pid not written yet — or a holder killed in between
  }
}

function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}

/** Temp directories of fetches that died (we hold the lock, so no live fetch owns one). */
function removeLeftovers(dir: string): void {
  const base = path.basename(dir);
  for (const name of readdirSync(path.dirname(dir)))
    if (name.startsWith(`${base}.partial`))
      rmSync(path.join(path.dirname(dir), name), { recursive: true, force: true });
}
