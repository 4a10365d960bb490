import pg from 'pg';
import { loadConfig, pgConnection } from '../src/config/config.ts';
const cfg = loadConfig();
const c = new pg.Client(pgConnection(cfg, 'postgres'));
await c.connect();
console.log((await c.query('select datname from pg_database')).rows, (await c.query('select version()')).rows[0]);
const c2 = new pg.Client(pgConnection(cfg, 'oltp')); await c2.connect();
console.log((await c2.query(`select table_name from information_schema.tables where table_schema='public'`)).rows);
await c.end(); await c2.end();
