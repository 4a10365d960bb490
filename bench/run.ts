/**
 * `npm run bench`: every benchmark in one run, each measuring Sluice next to its peers in the
 * same run (ratios, not absolute thresholds: the machines are shared and noisy). Starts the local
 * stack if it is not up (and stops it after); each bench creates the topics, schemas and tables it
 * reads, fresh for the run. Writes bench/results/latest.json and prints the README's table
 * (bench/results/latest.md).
 *
 *   npm run bench                    # everything (about 10 minutes)
 *   npm run bench -- topology e2e    # some of them: topology, warehouse, s3, feed, e2e
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../src/config/config.ts';
import { stackDown, stackStatus, stackUp } from '../src/stack/stack.ts';
import { benchTable } from './benchTable.ts';

const benches: Record<string, [string, string[]]> = {
  topology: ['topology.bench.ts', ['100000', '--rounds', '2']],
  warehouse: ['warehouseSink.bench.ts', ['100000']],
  s3: ['s3Sink.bench.ts', []],
  feed: ['feedLatency.bench.ts', ['1000', '20']],
  e2e: ['endToEndLatency.bench.ts', ['1000', '15']],
};
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(benches);

/** The bench's result: the JSON its output ends with (one line, or pretty-printed). */
function lastJson(stdout: string): unknown {
  // Maven (the Kafka Streams peer's build) leaves terminal colour codes in front of the line.
  const lines = stdout
    .replace(/\x1b\[[0-9;]*m/g, '')
    .trimEnd()
    .split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i].startsWith('{')) continue;
    try {
      return JSON.parse(lines.slice(i).join('\n'));
    } catch {
      /* an earlier line may start it */
    }
  }
  return undefined;
}

const cfg = loadConfig();
const say = (l: string) => process.stdout.write(`${l}\n`);
const startedHere = !(await stackStatus(cfg)).every((s) => s.healthy);
await stackUp(cfg, say);
const cpu = `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`;
const memory = `${Math.round(os.totalmem() / 2 ** 30)} GiB`;
const machine = `${cpu}, ${memory}, ${os.platform()} ${os.release()}, Node ${process.versions.node}`;
const results: Record<string, unknown> = { at: new Date().toISOString(), machine };
try {
  for (const name of chosen) {
    const [file, args] = benches[name];
    say(`== ${file} ${args.join(' ')}`);
    const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bench', file), ...args], {
      encoding: 'utf8',
      env: { ...process.env, SLUICE_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    process.stdout.write(res.stdout);
    results[name] = { exitCode: res.status, result: lastJson(res.stdout) };
  }
} finally {
  if (startedHere) await stackDown(cfg, say);
}
const dir = path.join(PROJECT_ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
const table = benchTable(results);
writeFileSync(path.join(dir, 'latest.md'), `${table}\n`);
say(`\n${table}`);
