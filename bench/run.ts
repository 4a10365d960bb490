/**
 * `npm run bench`: every benchmark in one run, each measuring Sluice next to a peer in the same
 * run (ratios, not absolute thresholds: the machines are shared and noisy). Needs the local stack
 * (`sluice dev up`). Writes bench/results/latest.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/config/config.ts';

const benches: [string, string[]][] = [
  ['topology.bench.ts', ['50000']],
  ['warehouseSink.bench.ts', ['100000']],
  ['s3Sink.bench.ts', []],
  ['feedLatency.bench.ts', ['1000', '20']],
  ['endToEndLatency.bench.ts', ['1000', '15']],
];
const results: Record<string, unknown> = { at: new Date().toISOString() };
for (const [file, args] of benches) {
  process.stdout.write(`== ${file}\n`);
  const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bench', file), ...args], {
    encoding: 'utf8',
    env: { ...process.env, SLUICE_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stdout.write(res.stdout);
  results[file] = { exitCode: res.status, output: res.stdout.trim().split('\n').slice(-30) };
}
mkdirSync(path.join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
