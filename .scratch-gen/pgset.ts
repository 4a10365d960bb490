import pg from 'pg';
import { loadConfig, pgConnection } from '../src/config/config.ts';
const c = new pg.Client(pgConnection(loadConfig(), 'postgres')); await c.connect();
for (const n of ['shared_buffers','fsync','synchronous_commit','wal_level','max_wal_size','work_mem','maintenance_work_mem','full_page_writes']) console.log(n, (await c.query('show '+n)).rows[0][n]);
await c.end();
