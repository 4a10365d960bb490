/**
 * How cleanly does `sluice demo` start? Runs it N times and counts clean starts and valid clicks
 * dead-lettered as unknown products. Not part of `npm test`: each run takes about a minute.
 *
 *   node scripts/demoStarts.ts [--runs 10] [--duration 30s] [--fresh]
 *
 * --fresh stops the local stack and deletes SLUICE_STACK_DIR before every run, so each demo
 * starts a new Kafka (the case that used to crash). A run is clean when the demo exits 0, prints
 * its summary, and logs nothing at error level or above (a run that completes with error lines,
such as a consumer crash kafkajs recovered from, is reported as such). A click dead-lettered by the rule
 * `click_product_exists` whose product is in the shop's `products` table is a valid click lost to
 * a start-up race; the generator's deliberate `unknown_product` clicks use ids beyond the
 * catalogue and are rightly rejected. Logs of each run go to $TMPDIR/sluice-demo-starts/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, pgConnection, PROJECT_ROOT } from '../src/config/config.ts';
import { inspectTopic } from '../src/admin/inspectTopic.ts';
import { stackDown } from '../src/stack/stack.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const runs = Number(arg('runs', '10'));
const duration = arg('duration', '30s');
const fresh = args.includes('--fresh');
const cfg = loadConfig();
const logDir = path.join(tmpdir(), 'sluice-demo-starts');
mkdirSync(logDir, { recursive: true });
const say = (line: string) => process.stdout.write(`${line}\n`);

function sluice(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'src/cli/main.ts'), ...argv], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Error-level log lines (pino level ≥ 50) and CLI error lines, by message. */
function errorsIn(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    if (line.startsWith('error ')) {
      out.push(line);
      continue;
    }
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; code?: string };
      if ((entry.level ?? 0) >= 50) out.push(`${entry.code ?? ''} ${entry.msg ?? ''}`.trim());
    } catch {
      /* not a log line */
    }
  }
  return out;
}

async function productIds(): Promise<Set<number>> {
  const now = loadConfig(); // a fresh stack generated new secrets since this script started
  const client = new pg.Client(pgConnection(now, now.oltpDatabase));
  await client.connect();
  try {
    return new Set((await client.query('select product_id from products')).rows.map((r) => Number(r.product_id)));
  } finally {
    await client.end();
  }
}

/**
 * Clicks dead-lettered by click_product_exists: those whose product exists, and the rest. Read
 * with the library behind `sluice inspect --json` (same decoding): piping the CLI's output would
 * cut it short at exit when the DLQ holds megabyte records (the generator's too_large kind).
 */
async function productRejections(): Promise<{ validLost: number; unknown: number }> {
  const records = await inspectTopic(loadConfig(), {
    topic: 'web.clickstream.dlq',
    fromBeginning: true,
    limit: 10_000_000,
  });
  const catalogue = await productIds();
  let validLost = 0;
  let unknown = 0;
  for (const r of records) {
    if (r.headers['sluice.error.rule'] !== 'click_product_exists') continue;
    const productId = (r.value as { product_id?: number | null } | null)?.product_id;
    if (productId != null && catalogue.has(Number(productId))) validLost++;
    else unknown++;
  }
  return { validLost, unknown };
}

let clean = 0;
let completedRuns = 0;
let validLostTotal = 0;
for (let run = 1; run <= runs; run++) {
  if (fresh) {
    await stackDown(cfg);
    rmSync(cfg.stackDir, { recursive: true, force: true });
  }
  const started = Date.now();
  const demo = await sluice(['demo', '--duration', duration]);
  writeFileSync(path.join(logDir, `run-${run}.out`), demo.stdout);
  writeFileSync(path.join(logDir, `run-${run}.err`), demo.stderr);
  const errors = errorsIn(demo.stderr);
  const completed = demo.code === 0 && demo.stdout.includes('== what went where');
  const ok = completed && errors.length === 0;
  let rejections = 'not counted (the demo failed and stopped its stack)';
  if (demo.code === 0) {
    const r = await productRejections();
    validLostTotal += r.validLost;
    rejections = `click_product_exists: ${r.validLost} valid clicks, ${r.unknown} unknown products`;
  }
  if (ok) clean++;
  if (completed) completedRuns++;
  const verdict = ok
    ? 'clean'
    : completed
      ? `completed, but ${errors.length} error-level log lines`
      : `FAILED (exit ${demo.code})`;
  say(`run ${run}: ${verdict} in ${((Date.now() - started) / 1000).toFixed(0)} s; ${rejections}`);
  for (const e of errors.slice(0, 5)) say(`    ${e.slice(0, 300)}`);
}
say(
  `clean starts: ${clean} of ${runs} (completed: ${completedRuns}); valid clicks dead-lettered as unknown products: ${validLostTotal}`,
);
if (fresh) await stackDown(cfg);
process.exit(clean === runs && validLostTotal === 0 ? 0 : 1);
