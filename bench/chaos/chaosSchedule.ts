import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../src/config/config.ts';
import { createRng } from '../../src/shop/generate/random.ts';
import type { RunnerFleet } from './runnerFleet.ts';
import { freezePostgres, restartBroker } from './stackControl.ts';

/**
 * What happens to the running system, when: a seeded plan of runner kills (SIGKILL, then a
 * restart at once), one broker crash and restart, one Postgres freeze, and the graceful stop of
 * the second runner half-way. Events run one after the other; each kill waits for the restarted
 * runner to process records again, which is the time-to-resume it reports.
 */

export type ChaosEvent =
  | { kind: 'kill'; at: number; n: number }
  | { kind: 'broker-restart'; at: number }
  | { kind: 'pg-freeze'; at: number; ms: number }
  | { kind: 'scale-down'; at: number; slot: number };

export interface KillRecord {
  n: number;
  slot: number;
  runners: number;
  /** Planned and actual time of the kill, ms after the run started. */
  plannedAt: number;
  at: number;
  /** Kill → the restarted process answers /metrics. */
  upMs: number | null;
  /** Kill → the restarted process has consumed records (`sluice_records_in_total` > 0). */
  resumeMs: number | null;
  /** Which process of the slot the restart was (RunnerFleet.lives). */
  process: number;
  /**
   * Kill → `sluice run` of the restarted process says every topology runs (all seven joined their
   * groups); null: never.
   */
  allRunningMs?: number | null;
  /** The restarted process was killed (or died) before it said it runs every topology. */
  killedBeforeRunning?: boolean;
}

export interface ChaosLog {
  /** Epoch ms of the run's start; event times are relative to it. */
  startedAt: number;
  plan: ChaosEvent[];
  kills: KillRecord[];
  skippedKills: number;
  broker?: { at: number; downMs: number; error?: string };
  pgFreeze?: { at: number; ms: number; pids?: number; error?: string };
  scaleDown?: {
    at: number;
    slot: number;
    graceful: boolean;
    code: number | null;
    signal: string | null;
    ms: number;
    startedBeforeSigterm?: boolean;
  };
}

/** The seeded plan: `kills` spread over the run (one per slice, at a random point of it). */
export function planChaos(seed: string, runMs: number, kills: number, pgFreezeMs: number): ChaosEvent[] {
  const rng = createRng(seed).fork('chaos-plan');
  const events: ChaosEvent[] = [];
  for (let i = 0; i < kills; i++)
    events.push({ kind: 'kill', n: i + 1, at: Math.round((runMs * (i + 0.1 + 0.8 * rng.next())) / kills) });
  events.push({ kind: 'broker-restart', at: Math.round(runMs * 0.3) });
  events.push({ kind: 'scale-down', at: Math.round(runMs * 0.5), slot: 1 });
  events.push({ kind: 'pg-freeze', at: Math.round(runMs * 0.7), ms: pgFreezeMs });
  return events.sort((a, b) => a.at - b.at);
}

export async function runChaos(
  cfg: Config,
  fleet: RunnerFleet,
  opts: {
    seed: string;
    plan: ChaosEvent[];
    startedAt: number;
    hardStopAt: number;
    resumeTimeoutMs: number;
    say: (line: string) => void;
  },
): Promise<ChaosLog> {
  const rng = createRng(opts.seed).fork('chaos-targets');
  const log: ChaosLog = { startedAt: opts.startedAt, plan: opts.plan, kills: [], skippedKills: 0 };
  const since = () => Date.now() - opts.startedAt;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  for (const ev of opts.plan) {
    const wait = opts.startedAt + ev.at - Date.now();
    if (wait > 0) await sleep(wait);
    if (Date.now() > opts.hardStopAt) {
      if (ev.kind === 'kill') log.skippedKills++;
      else opts.say(`${ev.kind} skipped: past the time bound`);
      continue;
    }
    switch (ev.kind) {
      case 'kill': {
        const alive = fleet.alive().sort((a, b) => a - b);
        if (!alive.length) {
          log.skippedKills++;
          break;
        }
        const slot = alive.length === 1 ? alive[0] : rng.pick(alive);
        const at = since();
        const t0 = Date.now();
        await fleet.kill(slot);
        const life = fleet.start(slot);
        const { upMs, resumeMs } = await awaitResume(fleet, slot, t0, opts.resumeTimeoutMs);
        log.kills.push({ n: ev.n, slot, process: life.n, runners: alive.length, plannedAt: ev.at, at, upMs, resumeMs });
        opts.say(
          `kill ${ev.n}/${opts.plan.filter((e) => e.kind === 'kill').length}: SIGKILL runner ${slot} (${alive.length} running) → up ${upMs === null ? '-' : secs(upMs)}, consuming again after ${resumeMs === null ? `> ${secs(opts.resumeTimeoutMs)} (gave up)` : secs(resumeMs)}`,
        );
        break;
      }
      case 'broker-restart': {
        const at = since();
        opts.say('broker: SIGKILL the Kafka JVM, start it again');
        try {
          const r = await restartBroker(cfg);
          log.broker = { at, downMs: r.downMs };
          opts.say(`broker: back after ${secs(r.downMs)}`);
        } catch (err) {
          log.broker = { at, downMs: -1, error: (err as Error).message };
          opts.say(`broker restart failed: ${(err as Error).message}`);
        }
        break;
      }
      case 'pg-freeze': {
        const at = since();
        opts.say(`postgres: SIGSTOP for ${secs(ev.ms)}`);
        try {
          const r = await freezePostgres(cfg, ev.ms);
          log.pgFreeze = { at, ms: ev.ms, pids: r.pids };
          opts.say(`postgres: SIGCONT (${r.pids} processes)`);
        } catch (err) {
          log.pgFreeze = { at, ms: ev.ms, error: (err as Error).message };
          opts.say(`postgres freeze failed: ${(err as Error).message}`);
        }
        break;
      }
      case 'scale-down': {
        // `sluice run` handles SIGTERM once started: wait (a while) until it says so.
        const readyBy = Date.now() + 60_000;
        let started = false;
        while (!(started = fleet.life(ev.slot)?.startedAt !== undefined) && Date.now() < readyBy) await sleep(250);
        const at = since();
        const t0 = Date.now();
        const r = await fleet.stop(ev.slot);
        log.scaleDown = {
          at,
          slot: ev.slot,
          graceful: r.graceful,
          code: r.code,
          signal: r.signal,
          ms: Date.now() - t0,
        };
        log.scaleDown.startedBeforeSigterm = started;
        opts.say(
          `runner ${ev.slot}: SIGTERM${started ? '' : ' (it had not said it runs every topology 60 s after its start)'} (one runner from now on) → exit ${r.code ?? r.signal} in ${secs(Date.now() - t0)}${r.graceful ? '' : ' (SIGKILLed after the timeout)'}`,
        );
        break;
      }
    }
  }
  return log;
}

/** Polls the restarted runner until it answers /metrics and until it has consumed records. */
async function awaitResume(
  fleet: RunnerFleet,
  slot: number,
  killedAt: number,
  timeoutMs: number,
): Promise<{ upMs: number | null; resumeMs: number | null }> {
  let upMs: number | null = null;
  while (Date.now() - killedAt < timeoutMs) {
    const n = await fleet.recordsIn(slot);
    if (n !== undefined && upMs === null) upMs = Date.now() - killedAt;
    if (n !== undefined && n > 0) return { upMs, resumeMs: Date.now() - killedAt };
    await sleep(200);
  }
  return { upMs, resumeMs: null };
}
