import { loadConfig } from '../src/config/config.ts';
import { ensureDatabase, dropDatabase } from '../src/oltp/oltpDdl.ts';
import { seedOltp, runOltpActivity } from '../src/generate/oltpGenerator.ts';
const cfg = loadConfig();
const db = 'oltp_bench_' + Date.now().toString(36);
await ensureDatabase(cfg, db);
try {
  const r = await seedOltp(cfg, { customers: Number(process.argv[2] ?? 20000), products: Number(process.argv[3] ?? 2000), orders: Number(process.argv[4] ?? 100000), seed: 7, database: db, progress: true });
  console.log(r);
  const a = await runOltpActivity(cfg, { rate: 5000, count: 5000, badRatio: 0.1, seed: 1, database: db, progress: true });
  console.log(JSON.stringify(a));
} finally { await dropDatabase(cfg, db); }
