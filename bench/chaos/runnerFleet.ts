import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/config.ts';

/**
 * `sluice run` child processes in one consumer group per topology, as an operator runs them:
 * `node src/cli/main.ts run --no-feed --no-extract`, each slot on its own SLUICE_HTTP_PORT and
 * with its own log file. A child that exits without being told to is restarted (a supervisor's
 * job) and the exit is recorded. `/metrics` tells when a (re)started runner processes records.
 */

export interface UnexpectedExit {
  slot: number;
  code: number | null;
  signal: string | null;
  at: number;
  logFile: string;
  logTail: string;
}

/** One process of a slot: when it was spawned, when `sluice run` said it runs every topology, when it exited. */
export interface RunnerLife {
  slot: number;
  n: number;
  pid: number;
  spawnedAt: number;
  startedAt?: number;
  exitedAt?: number;
}

/** What `sluice run` prints on stdout once every topology has joined its group (and its signal handlers are set). */
const STARTED_LINE = 'sluice run:';

interface Slot {
  slot: number;
  port: number;
  proc?: ChildProcess;
  life?: RunnerLife;
  /** Set while we are killing or stopping it on purpose. */
  expectingExit: boolean;
  exited?: Promise<void>;
  starts: number;
  logFile?: string;
}

export interface RunnerFleet {
  /** Starts the runner of `slot` (a new process); returns at once (not yet consuming). */
  start(slot: number): RunnerLife;
  /** Every process started so far; `startedAt` fills in when its log shows the started line. */
  lives: RunnerLife[];
  /** The current process of `slot`. */
  life(slot: number): RunnerLife | undefined;
  /** SIGKILL; resolves when the process is gone. */
  kill(slot: number): Promise<void>;
  /** SIGTERM and wait (drain, commit, leave the group); SIGKILL after `timeoutMs`. */
  stop(slot: number, timeoutMs?: number): Promise<{ code: number | null; signal: string | null; graceful: boolean }>;
  alive(): number[];
  port(slot: number): number;
  /** Sum of `sluice_records_in_total` of the slot's current process, undefined when it does not answer. */
  recordsIn(slot: number): Promise<number | undefined>;
  readyz(slot: number): Promise<ReadyStatus | undefined>;
  unexpectedExits: UnexpectedExit[];
  stopAll(): Promise<void>;
}

export interface ReadyStatus {
  ready: boolean;
  topologies: { topology: string; running: boolean; assigned: number; paused: number; inFlight: number; lag: number }[];
}

export function createRunnerFleet(opts: {
  env: NodeJS.ProcessEnv;
  basePort: number;
  logDir: string;
  say: (line: string) => void;
}): RunnerFleet {
  const slots = new Map<number, Slot>();
  const unexpectedExits: UnexpectedExit[] = [];
  const lives: RunnerLife[] = [];
  let closing = false;
  mkdirSync(opts.logDir, { recursive: true });

  const slotOf = (n: number): Slot => {
    let s = slots.get(n);
    if (!s) {
      s = { slot: n, port: opts.basePort + n, expectingExit: false, starts: 0 };
      slots.set(n, s);
    }
    return s;
  };

  function start(n: number): RunnerLife {
    const s = slotOf(n);
    if (s.proc && s.proc.exitCode === null && s.proc.signalCode === null)
      throw new Error(`runner ${n} is already running`);
    s.starts++;
    const logFile = path.join(opts.logDir, `runner-${n}-${s.starts}.log`);
    s.logFile = logFile;
    const fd = openSync(logFile, 'a');
    const proc = spawn(
      process.execPath,
      [path.join(PROJECT_ROOT, 'src/cli/main.ts'), 'run', '--no-feed', '--no-extract'],
      {
        cwd: PROJECT_ROOT,
        env: { ...opts.env, SLUICE_HTTP_PORT: String(s.port) },
        stdio: ['ignore', fd, fd],
      },
    );
    closeSync(fd);
    const life: RunnerLife = { slot: n, n: s.starts, pid: proc.pid!, spawnedAt: Date.now() };
    lives.push(life);
    s.life = life;
    // Watch the log for the started line (the process writes it to its stdout, our log file).
    const watch = setInterval(() => {
      if (life.exitedAt !== undefined) {
        clearInterval(watch);
        return;
      }
      try {
        if (readFileSync(logFile, 'utf8').includes(STARTED_LINE)) {
          life.startedAt = Date.now();
          clearInterval(watch);
        }
      } catch {
        /* not yet written */
      }
    }, 250);
    s.proc = proc;
    s.expectingExit = false;
    s.exited = new Promise<void>((resolve) =>
      proc.once('exit', (code, signal) => {
        life.exitedAt = Date.now();
        clearInterval(watch);
        if (!s.expectingExit && !closing && s.proc === proc) {
          const exit: UnexpectedExit = {
            slot: n,
            code,
            signal,
            at: Date.now(),
            logFile: s.logFile!,
            logTail: tail(s.logFile!),
          };
          unexpectedExits.push(exit);
          opts.say(`runner ${n} exited on its own (code ${code}, signal ${signal}); restarting it (log ${s.logFile})`);
          setTimeout(() => {
            if (!closing && s.proc === proc) start(n);
          }, 1000);
        }
        resolve();
      }),
    );
    return life;
  }

  async function kill(n: number): Promise<void> {
    const s = slotOf(n);
    if (!s.proc || s.proc.exitCode !== null || s.proc.signalCode !== null) return;
    s.expectingExit = true;
    s.proc.kill('SIGKILL');
    await s.exited;
  }

  async function stop(
    n: number,
    timeoutMs = 40_000,
  ): Promise<{ code: number | null; signal: string | null; graceful: boolean }> {
    const s = slotOf(n);
    const proc = s.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null)
      return { code: proc?.exitCode ?? null, signal: proc?.signalCode ?? null, graceful: true };
    s.expectingExit = true;
    proc.kill('SIGTERM');
    let graceful = true;
    const timer = setTimeout(() => {
      graceful = false;
      proc.kill('SIGKILL');
    }, timeoutMs);
    await s.exited;
    clearTimeout(timer);
    return { code: proc.exitCode, signal: proc.signalCode, graceful };
  }

  async function get(n: number, route: string): Promise<Response | undefined> {
    try {
      return await fetch(`http://127.0.0.1:${slotOf(n).port}${route}`, { signal: AbortSignal.timeout(2000) });
    } catch {
      return undefined;
    }
  }

  return {
    start,
    kill,
    stop,
    unexpectedExits,
    lives,
    life: (n) => slotOf(n).life,
    alive: () =>
      [...slots.values()]
        .filter((s) => s.proc && s.proc.exitCode === null && s.proc.signalCode === null)
        .map((s) => s.slot),
    port: (n) => slotOf(n).port,
    async recordsIn(n) {
      const res = await get(n, '/metrics');
      if (!res?.ok) return undefined;
      return sumCounter(await res.text(), 'sluice_records_in_total');
    },
    async readyz(n) {
      const res = await get(n, '/readyz');
      if (!res) return undefined;
      try {
        return (await res.json()) as ReadyStatus;
      } catch {
        return undefined;
      }
    },
    async stopAll() {
      closing = true;
      await Promise.all([...slots.keys()].map((n) => stop(n)));
    },
  };
}

/** Sum of every sample of a Prometheus counter in the text exposition format. */
export function sumCounter(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) total += v;
  }
  return total;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '';
  }
}
