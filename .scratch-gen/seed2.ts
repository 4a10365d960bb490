import { loadConfig } from '../src/config/config.ts';
import { ensureDatabase, dropDatabase } from '../src/oltp/oltpDdl.ts';
import { seedOltp } from '../src/generate/oltpGenerator.ts';
const cfg = loadConfig();
const db = 'oltp_bench_' + Date.now().toString(36);
await ensureDatabase(cfg, db);
try {
  const r = await seedOltp(cfg, { customers: 20000, products: 2000, orders: 100000, seed: 7, database: db });
  console.log(r, process.cpuUsage());
} finally { await dropDatabase(cfg, db); }
