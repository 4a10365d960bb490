import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { processUsage } from './processUsage.ts';

/** What one peer did on the bench's topic, from its first commit to its last. */
export interface PeerRun {
  name: string;
  recordsPerSecond: number;
  cpuSecondsPer100k: number;
  peakRssMiB: number;
  seconds: number;
}

/**
 * Runs one peer as its own process until its consumer group has committed all `n` records.
 * Measured from the first commit (every peer has joined its group and is warm enough to commit)
 * to the last: records/s, CPU-s per 100k records of the peer's process over that span, and its
 * peak resident memory over the whole run. Startup (JVM, group join) is left out for everyone.
 *
 * @example
 *   const loop = { command: process.execPath, args: ['bench/peers/loopPeer.ts', 'kafkajs', ...] };
 *   await runPeer({ name: 'kafkajs', ...loop, n, committed });
 */
export async function runPeer(opts: {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  n: number;
  committed: () => Promise<number>;
  timeoutMs?: number;
}): Promise<PeerRun> {
  const proc = spawn(opts.command, opts.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  const tail: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => {
    tail.push(l);
    if (tail.length > 20) tail.shift();
  });
  let exited: number | null | undefined;
  proc.once('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  const fail = (why: string) => new Error(`${opts.name}: ${why}; its last stderr lines:\n${tail.join('\n')}`);
  try {
    let peak = 0;
    let start: { t: number; records: number; cpu: number } | undefined;
    for (;;) {
      if (exited !== undefined) throw fail(`exited with ${exited}`);
      if (Date.now() > deadline) throw fail('did not finish in time');
      const u = processUsage(proc.pid!);
      peak = Math.max(peak, u.rssMiB);
      const done = await opts.committed();
      const now = performance.now();
      if (!start && done > 0) start = { t: now, records: done, cpu: u.cpuSeconds };
      if (start && done >= opts.n) {
        const seconds = (now - start.t) / 1000;
        const records = opts.n - start.records;
        return {
          name: opts.name,
          recordsPerSecond: Math.round(records / Math.max(0.001, seconds)),
          cpuSecondsPer100k: Number((((u.cpuSeconds - start.cpu) / Math.max(1, records)) * 100_000).toFixed(2)),
          peakRssMiB: Math.round(peak),
          seconds: Number(seconds.toFixed(2)),
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (exited !== undefined ? r(null) : proc.once('exit', r)));
  }
}
