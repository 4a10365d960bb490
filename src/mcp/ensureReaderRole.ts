import pg from 'pg';
import { type Config, pgConnection } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { layerSchemas } from '../shop/warehouseModel.ts';
import { mcpReaderPasswordOf } from './mcpSecrets.ts';
import { scramSha256Verifier } from './scramVerifier.ts';

/**
 * The read-only role `sluice mcp` queries as, made to match the settings at every start (with the
 * admin connection, SLUICE_PG_USER): it can log in, read the gold schema and nothing else —
 * USAGE on that one schema, SELECT on its tables now and, through default privileges, on the
 * tables the admin role creates there later; no superuser, CREATEDB, CREATEROLE, replication or
 * RLS bypass. Its sessions default to read-only transactions and a statement timeout, so even a
 * connection that bypassed `readOnlyQuery` could not write or run long. The password is set as a
 * SCRAM verifier: the plain text never reaches the server or its logs.
 *
 * @example await ensureReaderRole(cfg); // then connect as cfg.mcpReaderUser
 */
export async function ensureReaderRole(cfg: Config): Promise<void> {
  const reader = cfg.mcpReaderUser;
  const gold = layerSchemas(cfg.mcpSchemaPrefix).gold;
  if (reader === cfg.pgUser)
    throw new SluiceError('CONFIG_INVALID', `SLUICE_MCP_READER_USER must not be SLUICE_PG_USER (${cfg.pgUser})`);
  const admin = new pg.Client({ ...pgConnection(cfg, cfg.warehouseDatabase), application_name: 'sluice-mcp-setup' });
  try {
    await admin.connect();
    const id = admin.escapeIdentifier.bind(admin);
    await admin.query('begin');
    // Two servers starting at once would race on CREATE ROLE and on the grants (tuple concurrently updated).
    await admin.query(`select pg_advisory_xact_lock(hashtext('sluice-mcp-reader'))`);
    const { rows } = await admin.query<{ rolsuper: boolean; rolcreaterole: boolean }>(
      'select rolsuper, rolcreaterole from pg_roles where rolname = $1',
      [reader],
    );
    if (rows[0]?.rolsuper || rows[0]?.rolcreaterole)
      throw new SluiceError(
        'CONFIG_INVALID',
        `SLUICE_MCP_READER_USER (${reader}) names a privileged role; choose another`,
      );
    const attrs =
      `login nosuperuser nocreatedb nocreaterole noinherit noreplication nobypassrls connection limit 20 ` +
      `password ${admin.escapeLiteral(scramSha256Verifier(mcpReaderPasswordOf(cfg)))}`;
    await admin.query(`${rows.length ? 'alter' : 'create'} role ${id(reader)} with ${attrs}`);
    await admin.query(`alter role ${id(reader)} set default_transaction_read_only = on`);
    await admin.query(`alter role ${id(reader)} set statement_timeout = ${Number(cfg.mcpStatementTimeoutMs)}`);
    await admin.query(`create schema if not exists ${id(gold)}`);
    await admin.query(`grant usage on schema ${id(gold)} to ${id(reader)}`);
    await admin.query(`grant select on all tables in schema ${id(gold)} to ${id(reader)}`);
    await admin.query(
      `alter default privileges for role ${id(cfg.pgUser)} in schema ${id(gold)} grant select on tables to ${id(reader)}`,
    );
    await admin.query('commit');
  } catch (err) {
    await admin.query('rollback').catch(() => {});
    if (err instanceof SluiceError) throw err;
    throw new SluiceError(
      'MCP_READER_SETUP_FAILED',
      `cannot set up the read-only role ${reader} on ${gold}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await admin.end().catch(() => {});
  }
}
