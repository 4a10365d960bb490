/**
 * `npm run chaos`: the product on the local stack under chaos — runners SIGKILLed and restarted,
 * the broker crashed and restarted, Postgres frozen — then checks that nothing was lost, what was
 * duplicated, that window finals are final and right, that the warehouse and the lake hold what
 * silver holds, and how long a killed runner takes to resume. Not part of `npm test`.
 *
 *   npm run chaos -- --quick --guarantee at_least_once
 *
 * Isolation: the topologies use fixed topic names, so each guarantee starts from a clean stack
 * (`dev down`, the stack directory wiped, `dev up`, on the SLUICE_* ports of the environment).
 * Writes bench/results/chaos.json and prints a markdown table; exits 1 when a required check fails.
 * See bench/chaos/ for the parts: feeds, runner fleet, chaos schedule, drain, checks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeSizes, parseChaosOptions, USAGE } from './chaos/options.ts';

// The harness reports what matters itself; its own clients' logs (kafkajs retrying through the
// broker restart) would drown the progress lines. Set before the engine modules create loggers.
process.env.SLUICE_LOG_LEVEL ??= 'fatal';

const { runGuarantee, liveFleets } = await import('./chaos/scenario.ts');
const { failedRequired, markdownTable, SECTIONS } = await import('./chaos/report.ts');
const { loadConfig } = await import('../src/config/config.ts');
const { stackDown } = await import('../src/stack/stack.ts');

let opts: ReturnType<typeof parseChaosOptions>;
try {
  opts = parseChaosOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts === 'help') {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const t0 = Date.now();
const clock = () => {
  const s = Math.floor((Date.now() - t0) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const sayAs = (tag: string) => (line: string) => process.stdout.write(`[${clock()} ${tag}] ${line}\n`);
const say = sayAs('chaos');

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  say('interrupted: stopping the runners (Ctrl-C again to leave them)');
  void Promise.all([...liveFleets].map((f) => f.stopAll())).then(() => process.exit(130));
});

say(`${opts.mode} mode, guarantees: ${opts.guarantees.join(', ')}, seed "${opts.seed}"`);
say(`scenario per guarantee:\n  ${describeSizes(opts.sizes)}`);

const runs = [];
for (const g of opts.guarantees) {
  say(`== ${g}`);
  runs.push(await runGuarantee(g, opts, sayAs(g === 'exactly_once' ? 'eos' : 'alos')));
}

const table = markdownTable(runs);
const out = {
  at: new Date(t0).toISOString(),
  mode: opts.mode,
  seed: opts.seed,
  sizes: opts.sizes,
  sections: SECTIONS,
  table,
  runs,
};
const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results', 'chaos.json');
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(out, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v), 2)}\n`);

process.stdout.write(`\n${table}\n\n`);
process.stdout.write(
  `(${opts.mode} mode: ${describeSizes(opts.sizes).replaceAll('\n  ', '; ')}; ${runs.map((r) => `${r.guarantee} ${Math.round(r.durationMs / 1000)}s`).join(', ')})\n`,
);
say(`results: ${file}`);

if (!opts.keepStack) {
  await stackDown(loadConfig(), (l) => say(l));
}
const failed = runs.flatMap((r) => failedRequired(r.checks).map((c) => `${r.guarantee}: ${c.name}`));
if (failed.length) {
  say(`${failed.length} required check(s) failed:\n  ${failed.join('\n  ')}`);
  process.exit(1);
}
say('every required check passed');
process.exit(0);
