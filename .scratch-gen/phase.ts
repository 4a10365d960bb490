import pg from 'pg';
import { loadConfig, pgConnection } from '../src/config/config.ts';
import { ensureDatabase, dropDatabase } from '../src/oltp/oltpDdl.ts';
import { seedOltp } from '../src/generate/oltpGenerator.ts';
const cfg = loadConfig();
const db = 'oltp_bench_' + Date.now().toString(36);
await ensureDatabase(cfg, db);
const orig = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (...args: any[]) {
  const t = performance.now(); const r = (orig as any).apply(this, args);
  const label = typeof args[0] === 'string' ? args[0].slice(0, 50) : (args[0]?.text ?? 'copy').slice(0, 50);
  if (r && typeof r.then === 'function') r.then(() => console.log(label.replace(/\s+/g,' '), (performance.now() - t).toFixed(0)));
  else if (r && r.on) r.on('finish', () => console.log('COPY', (performance.now() - t).toFixed(0)));
  return r;
};
try {
  const r = await seedOltp(cfg, { customers: 20000, products: 2000, orders: 100000, seed: 7, database: db });
  console.log(r);
} finally { await dropDatabase(cfg, db); }
