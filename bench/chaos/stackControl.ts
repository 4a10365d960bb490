import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { isAlive, readPid } from '../../src/stack/processes.ts';
import { servicePaths } from '../../src/stack/service.ts';
import { stackDown, stackStatus, stackUp } from '../../src/stack/stack.ts';

/**
 * The local stack as the chaos harness drives it, through the stack's own code: a clean stack per
 * guarantee (down, wipe the stack directory, up: every topic, table, lake object and registered
 * schema is gone, so the fixed topic names of the topologies start empty), a crashed and
 * restarted broker, and a frozen Postgres.
 */

/** Stops the stack, wipes its directory, starts it again; returns the configuration with the new secrets. */
export async function freshStack(say: (line: string) => void): Promise<Config> {
  const before = loadConfig();
  await stackDown(before, (l) => say(`  ${l}`));
  const foreign = (await stackStatus(before)).filter((s) => s.healthy);
  if (foreign.length) {
    throw new Error(
      `cannot start from a clean stack: ${foreign.map((s) => `${s.name} on port ${s.port}`).join(', ')} answer(s) but were not started from ${before.stackDir}; stop them or point SLUICE_* ports elsewhere`,
    );
  }
  say(`wiping ${before.stackDir} (topics, tables, lake objects, schemas of this stack)`);
  rmSync(before.stackDir, { recursive: true, force: true });
  const t0 = Date.now();
  // Loaded after the wipe: the secrets are empty now and read from the files `up` generates.
  await stackUp(loadConfig(), (l) => say(`  ${l}`));
  say(`clean stack up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  // The wipe regenerated the stack's secrets: read them again.
  return loadConfig();
}

/** SIGKILLs the Kafka JVM (a crash, not a clean shutdown) and starts it again through `stackUp`. */
export async function restartBroker(cfg: Config): Promise<{ downMs: number; pid?: number }> {
  const pid = readPid(servicePaths(cfg, 'kafka').pidFile);
  if (pid === undefined || !isAlive(pid))
    throw new Error('the Kafka broker of this stack is not running (no live pid in its pid file)');
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) {
    if (Date.now() - t0 > 30_000) throw new Error(`the Kafka broker (pid ${pid}) is still alive 30 s after SIGKILL`);
    await sleep(50);
  }
  await sleep(2000); // clients notice the broker is gone before it comes back
  await stackUp(cfg);
  return { downMs: Date.now() - t0, pid };
}

/**
 * SIGSTOPs the Postgres server of the stack (postmaster and every backend: the OLTP source and
 * the warehouse share it) for `ms`, then SIGCONTs it. Connections stay open and hang, as on a
 * server that stalls; none is refused.
 */
export async function freezePostgres(cfg: Config, ms: number): Promise<{ pids: number }> {
  const postmaster = readPid(servicePaths(cfg, 'postgres').pidFile);
  if (postmaster === undefined || !isAlive(postmaster))
    throw new Error('the Postgres server of this stack is not running');
  const pids = [postmaster, ...childrenOf(postmaster)];
  for (const p of pids) {
    try {
      process.kill(p, 'SIGSTOP');
    } catch {
      /* gone */
    }
  }
  try {
    await sleep(ms);
  } finally {
    for (const p of [...pids].reverse()) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
  }
  return { pids: pids.length };
}

/** Direct children of a process (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so parse after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}
