import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/config.ts';
import { SluiceError } from '../../../src/core/errors.ts';
import { hostAllowed } from '../../../src/mcp/mcpHttpServer.ts';
import { asQueryError } from '../../../src/mcp/readOnlyQuery.ts';
import { scramSha256Verifier } from '../../../src/mcp/scramVerifier.ts';
import { toolFailure } from '../../../src/mcp/toolResult.ts';
import { catalogMatches } from '../../../src/mcp/tools/listCatalogTool.ts';
import type { CatalogEntry } from '../../../src/catalog/catalogEntry.ts';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

test('asQueryError: read-only, privilege and multi-statement refusals, timeouts and plain SQL errors get their codes', () => {
  const cases: [Error, string][] = [
    [pgError('25006', 'cannot execute DELETE in a read-only transaction'), 'MCP_QUERY_REFUSED'],
    [pgError('42501', 'permission denied to set role "sluice"'), 'MCP_QUERY_REFUSED'],
    [pgError('42601', 'cannot insert multiple commands into a prepared statement'), 'MCP_QUERY_REFUSED'],
    [pgError('25001', 'cannot set transaction read-write mode inside a read-only transaction'), 'MCP_QUERY_REFUSED'],
    [pgError('57014', 'canceling statement due to statement timeout'), 'MCP_QUERY_TIMEOUT'],
    [pgError('42601', 'syntax error at or near "selec"'), 'MCP_QUERY_FAILED'],
    [pgError('42P01', 'relation "nope" does not exist'), 'MCP_QUERY_FAILED'],
    [pgError('28P01', 'password authentication failed'), 'PG_AUTH_FAILED'],
    [new Error('Query read timeout'), 'MCP_QUERY_TIMEOUT'],
    [pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), 'PG_UNREACHABLE'],
  ];
  for (const [err, code] of cases) {
    const mapped = asQueryError(err);
    assert.equal(mapped.shortCode, code, err.message);
    assert.equal(mapped.cause, err);
  }
  assert.equal(asQueryError(pgError('25006', 'x')).details?.sqlState, '25006');
});

test('toolFailure: the text starts with the stable code and carries the hint; the code is in _meta', () => {
  const r = toolFailure(new SluiceError('MCP_QUERY_REFUSED', 'refused: no', { details: { sqlState: '25006' } }));
  assert.equal(r.isError, true);
  assert.match(
    (r.content[0] as { text: string }).text,
    /^SLUICE_ERR_MCP_QUERY_REFUSED: refused: no\n→ the gold schema is read-only/,
  );
  assert.deepEqual(r._meta, { sluiceErrorCode: 'SLUICE_ERR_MCP_QUERY_REFUSED', retriable: false, sqlState: '25006' });
  assert.equal(toolFailure(new Error('boom'))._meta?.sluiceErrorCode, 'SLUICE_ERR_INTERNAL');
});

test('hostAllowed: loopback names and IP literals pass, a rebinding name does not (unless it is the bind host)', () => {
  for (const h of ['localhost:8765', '127.0.0.1:8765', '[::1]:8765', '10.0.0.5', 'LOCALHOST'])
    assert.ok(hostAllowed(h, '127.0.0.1'), h);
  for (const h of ['evil.example:8765', 'localhost.evil.example', '', undefined])
    assert.ok(!hostAllowed(h, '127.0.0.1'), String(h));
  assert.ok(hostAllowed('mcp.internal:8765', 'mcp.internal'));
});

test('scramSha256Verifier: the form Postgres stores, salted (no two alike), deterministic for a given salt', () => {
  const salt = Buffer.alloc(16, 7);
  const v = scramSha256Verifier('pencil', salt);
  assert.match(v, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
  assert.equal(scramSha256Verifier('pencil', salt), v);
  assert.notEqual(scramSha256Verifier('pencil'), scramSha256Verifier('pencil'));
  assert.ok(!v.includes('pencil'));
});

test('MCP settings: defaults, a test schema prefix, and a reader role name that is not an identifier is refused', () => {
  const cfg = loadConfig({ SLUICE_STACK_DIR: '/tmp/none' });
  assert.equal(cfg.mcpHost, '127.0.0.1');
  assert.equal(cfg.mcpReaderUser, 'sluice_mcp_reader');
  assert.equal(cfg.mcpStatementTimeoutMs, 5000);
  assert.equal(cfg.mcpMaxRows, 500);
  assert.equal(cfg.mcpSchemaPrefix, '');
  assert.equal(loadConfig({ SLUICE_STACK_DIR: '/tmp/none', SLUICE_MCP_SCHEMA_PREFIX: 'it_x' }).mcpSchemaPrefix, 'it_x');
  assert.throws(
    () => loadConfig({ SLUICE_STACK_DIR: '/tmp/none', SLUICE_MCP_READER_USER: 'x"; drop role sluice; --' }),
    /SLUICE_MCP_READER_USER/,
  );
});

test('catalogMatches: name, description, owner and field names and docs are searched, case-insensitively', () => {
  const entry = {
    kind: 'topic',
    name: 'oltp.customers',
    description: 'Row image',
    owner: { team: 'commerce-data' },
    fields: [{ name: 'email', type: 'string', doc: 'Contact address', pii: 'email' }],
  } as unknown as CatalogEntry;
  for (const f of ['CUSTOMERS', 'row image', 'commerce', 'EMAIL', 'contact']) assert.ok(catalogMatches(entry, f), f);
  assert.ok(!catalogMatches(entry, 'revenue'));
});
