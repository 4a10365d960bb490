/**
 * The Kafka Streams peer of the topology bench (bench/kstreams: ClickFilter, one stream thread):
 * built with Maven on first use, run as its own JVM on the bench's topic, measured like the
 * others — records/s from its "running" state until its group committed every record, CPU-s of
 * its process over the same span (from /proc), and its peak RSS.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../src/config/config.ts';

const DIR = path.join(PROJECT_ROOT, 'bench', 'kstreams');
const JAR = path.join(DIR, 'target', 'kstreams-peer-1.0.jar');
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface PeerRun {
  steadyRate: number;
  cpuSecondsPer100k: number;
  rssMiB: number;
}

/** Builds the peer if needed; false (with the reason on stderr) when Maven or Java is missing. */
export function buildKafkaStreamsPeer(): boolean {
  if (existsSync(JAR)) return true;
  const res = spawnSync('mvn', ['-q', '-B', 'package', '-DskipTests'], { cwd: DIR, stdio: 'inherit' });
  if (res.status !== 0) process.stderr.write('Kafka Streams peer not built (is Maven installed?): skipped\n');
  return res.status === 0;
}

/** /proc/<pid>/stat: CPU seconds so far and resident MiB. */
function usage(pid: number): { cpu: number; rssMiB: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name: state is f[0], utime f[11], stime f[12], rss (pages) f[21].
    return { cpu: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND, rssMiB: (Number(f[21]) * 4096) / 2 ** 20 };
  } catch {
    return { cpu: 0, rssMiB: 0 };
  }
}

/**
 * Runs the peer on `input` until `committed()` reaches `n`; `committed` reads the group
 * `appId`'s committed offsets.
 */
export async function runKafkaStreamsPeer(opts: {
  brokers: string;
  input: string;
  output: string;
  appId: string;
  n: number;
  committed: () => Promise<number>;
}): Promise<PeerRun> {
  const schema = path.join(PROJECT_ROOT, 'schemas', 'web.clickstream.avsc');
  const state = mkdtempSync(path.join(tmpdir(), 'sluice-kstreams-'));
  const cp = `${JAR}${path.delimiter}${path.join(DIR, 'target', 'lib', '*')}`;
  const args = [
    '-cp',
    cp,
    'sluice.bench.ClickFilter',
    opts.brokers,
    opts.input,
    opts.output,
    opts.appId,
    schema,
    state,
  ];
  const proc = spawn('java', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`Kafka Streams peer exited with ${code}`)));
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        if (l === 'running') resolve();
      });
    });
    const t0 = performance.now();
    const atReady = await opts.committed();
    const cpu0 = usage(proc.pid!).cpu;
    let rss = 0;
    let done = atReady;
    while (done < opts.n) {
      rss = Math.max(rss, usage(proc.pid!).rssMiB);
      await new Promise((r) => setTimeout(r, 100));
      done = await opts.committed();
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = usage(proc.pid!).cpu - cpu0;
    return {
      steadyRate: Math.round((opts.n - atReady) / Math.max(0.001, seconds)),
      cpuSecondsPer100k: Number(((cpu / Math.max(1, opts.n - atReady)) * 100_000).toFixed(2)),
      rssMiB: Math.round(rss),
    };
  } finally {
    proc.kill('SIGTERM');
  }
}
