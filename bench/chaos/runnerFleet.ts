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

export interface UnexpectedExit { slot: number; code: number | null; signal: string | null; at: number; logFile: string; logTail: string }

interface Slot {
  slot: number;
  port: number;
  proc?: ChildProcess;
  /** Set while we are killing or stopping it on purpose. */
  expectingExit: boolean;
  exited?: Promise<void>;
  starts: number;
  logFile?: string;
}

export interface RunnerFleet {
  /** Starts the runner of `slot` (a new process); resolves once spawned (not yet consuming). */
  start(slot: number): number;
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

export interface ReadyStatus { ready: boolean; topologies: { topology: string; running: boolean; assigned: number; paused: number; inFlight: number; lag: number }[] }

export function createRunnerFleet(opts: { env: NodeJS.ProcessEnv; basePort: number; logDir: string; say: (line: string) => void }): RunnerFleet {
  const slots = new Map<number, Slot>();
  const unexpectedExits: UnexpectedExit[] = [];
  let closing = false;
  mkdirSync(opts.logDir, { recursive: true });

  const slotOf = (n: number): Slot => {
    let s = slots.get(n);
    if (!s) { s = { slot: n, port: opts.basePort + n, expectingExit: false, starts: 0 }; slots.set(n, s); }
    return s;
  };

  function start(n: number): number {
    const s = slotOf(n);
    if (s.proc && s.proc.exitCode === null && s.proc.signalCode === null) throw new Error(`runner ${n} is already running`);
    s.starts++;
    s.logFile = path.join(opts.logDir, `runner-${n}-${s.starts}.log`);
    const fd = openSync(s.logFile, 'a');
    const proc = spawn(process.execPath, [path.join(PROJECT_ROOT, 'src/cli/main.ts'), 'run', '--no-feed', '--no-extract'], {
      cwd: PROJECT_ROOT, env: { ...opts.env, SLUICE_HTTP_PORT: String(s.port) }, stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    s.proc = proc;
    s.expectingExit = false;
    s.exited = new Promise<void>((resolve) => proc.once('exit', (code, signal) => {
      if (!s.expectingExit && !closing && s.proc === proc) {
        const exit: UnexpectedExit = { slot: n, code, signal, at: Date.now(), logFile: s.logFile!, logTail: tail(s.logFile!) };
        unexpectedExits.push(exit);
        opts.say(`runner ${n} exited on its own (code ${code}, signal ${signal}); restarting it (log ${s.logFile})`);
        setTimeout(() => { if (!closing && s.proc === proc) start(n); }, 1000);
      }
      resolve();
    }));
    return proc.pid!;
  }

  async function kill(n: number): Promise<void> {
    const s = slotOf(n);
    if (!s.proc || s.proc.exitCode !== null || s.proc.signalCode !== null) return;
    s.expectingExit = true;
    s.proc.kill('SIGKILL');
    await s.exited;
  }

  async function stop(n: number, timeoutMs = 40_000): Promise<{ code: number | null; signal: string | null; graceful: boolean }> {
    const s = slotOf(n);
    const proc = s.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return { code: proc?.exitCode ?? null, signal: proc?.signalCode ?? null, graceful: true };
    s.expectingExit = true;
    proc.kill('SIGTERM');
    let graceful = true;
    const timer = setTimeout(() => { graceful = false; proc.kill('SIGKILL'); }, timeoutMs);
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
    start, kill, stop, unexpectedExits,
    alive: () => [...slots.values()].filter((s) => s.proc && s.proc.exitCode === null && s.proc.signalCode === null).map((s) => s.slot),
    port: (n) => slotOf(n).port,
    async recordsIn(n) {
      const res = await get(n, '/metrics');
      if (!res?.ok) return undefined;
      return sumCounter(await res.text(), 'sluice_records_in_total');
    },
    async readyz(n) {
      const res = await get(n, '/readyz');
      if (!res) return undefined;
      try { return (await res.json()) as ReadyStatus; } catch { return undefined; }
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
