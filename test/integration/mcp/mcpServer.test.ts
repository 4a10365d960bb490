import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { statSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { declaredCatalog } from '../../../src/catalog/declaredCatalog.ts';
import { type Config, PROJECT_ROOT, stackSecretFile, type StackSecret } from '../../../src/config/config.ts';
import { SCHEMA_FILES, SCHEMAS_DIR } from '../../../src/domain/schemas.ts';
import { MCP_TOOL_NAMES } from '../../../src/mcp/createMcpServer.ts';
import { realStack } from '../../support/stack.ts';
import { createMcpFixture, type McpFixture, startHttpServer, stopChild } from './mcpFixture.ts';

/**
 * `sluice mcp` end to end, through the SDK's own client: over stdio (the client spawns
 * `node bin/sluice.js mcp`) and over Streamable HTTP (`--http`), against data this test writes
 * to the real stack (an isolated gold schema, a metric topic, a DLQ, an incidents topic).
 */

let cfg: Config;
let fx: McpFixture;
let stdio: Client;
let stdioStderr = '';
let http: { url: string; child: ChildProcess; stderr: () => string };

type Structured = Record<string, unknown> & { rows?: Record<string, unknown>[] };

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

async function ok(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Structured> {
  const r = await call(client, name, args);
  assert.ok(!r.isError, `${name} failed: ${JSON.stringify(r.content)}`);
  // The text content is the same JSON, for clients that show only text.
  const text = (r.content[0] as { text: string }).text;
  assert.deepEqual(JSON.parse(text), r.structuredContent);
  return r.structuredContent as Structured;
}

async function refusedWith(client: Client, code: string, args: Record<string, unknown>): Promise<void> {
  const r = await call(client, 'query_gold', args);
  assert.equal(r.isError, true, `expected ${args.sql} to be refused, got ${JSON.stringify(r.structuredContent)}`);
  assert.equal(r._meta?.sluiceErrorCode, code, `${args.sql}: ${JSON.stringify(r.content)}`);
  assert.match((r.content[0] as { text: string }).text, new RegExp(`^${code}: `));
}

async function martRows(): Promise<Record<string, string>[]> {
  const { rows } = await fx.admin.query(
    `select order_date::text as order_date, category, revenue::text as revenue, orders::text as orders,
            avg_order_value::text as avg_order_value
       from ${fx.admin.escapeIdentifier(fx.gold)}.mart_revenue_daily order by order_date, revenue desc, category`,
  );
  return rows;
}

/** The status of a POST to `url` sent with this Host header (and no Accept: 406 once past the gate). */
function statusWithHost(url: string, host: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, host, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end('{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}');
  });
}

before(async () => {
  cfg = await realStack();
  fx = await createMcpFixture(cfg);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['bin/sluice.js', 'mcp'],
    cwd: PROJECT_ROOT,
    env: { ...(process.env as Record<string, string>), ...fx.env },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (d) => {
    stdioStderr += d;
  });
  stdio = new Client({ name: 'sluice-it', version: '1.0.0' });
  await stdio.connect(transport);
  http = await startHttpServer({ ...fx.env, SLUICE_MCP_TOKEN: 'it-token-0123456789' });
});

after(async () => {
  await stdio?.close();
  if (http) await stopChild(http.child);
  await fx?.close();
});

test('stdio: the client lists the six tools, each with an input and an output schema, and the resources', async () => {
  const { tools } = await stdio.listTools();
  assert.deepEqual(
    tools.map((t) => t.name),
    [...MCP_TOOL_NAMES],
  );
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object', t.name);
    assert.equal(t.outputSchema?.type, 'object', t.name);
    assert.ok((t.description ?? '').length > 80, `${t.name} has a description written for a model`);
    assert.equal(t.annotations?.readOnlyHint, true, t.name);
  }
  const query = tools.find((t) => t.name === 'query_gold')!;
  assert.deepEqual(Object.keys(query.inputSchema.properties ?? {}).sort(), ['max_rows', 'params', 'sql']);

  const templates = (await stdio.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
  assert.deepEqual(templates.sort(), ['sluice://marts/{name}', 'sluice://schemas/{topic}']);
  const uris = (await stdio.listResources()).resources.map((r) => r.uri);
  for (const topic of Object.keys(SCHEMA_FILES)) assert.ok(uris.includes(`sluice://schemas/${topic}`), topic);
  assert.ok(uris.includes('sluice://marts/mart_revenue_daily'), uris.join(' '));

  const schema = await stdio.readResource({ uri: 'sluice://schemas/oltp.orders' });
  assert.equal(
    (schema.contents[0] as { text: string }).text,
    readFileSync(`${SCHEMAS_DIR}${SCHEMA_FILES['oltp.orders']}`, 'utf8'),
  );
  const mart = JSON.parse(
    ((await stdio.readResource({ uri: 'sluice://marts/mart_revenue_daily' })).contents[0] as { text: string }).text,
  );
  assert.equal(mart.schema, fx.gold);
  assert.match(mart.description, /revenue per UTC day/i);
  const revenue = mart.columns.find((c: { name: string }) => c.name === 'revenue');
  assert.equal(revenue.type, 'numeric(14,2)');
  assert.match(revenue.doc, /line_amount/);
  assert.deepEqual(
    mart.columns.slice(0, 5).map((c: { name: string }) => c.name),
    ['order_date', 'category', 'revenue', 'orders', 'avg_order_value'],
  );
});

test("stdio: revenue_by_category answers 'revenue by category today' with what the mart holds", async () => {
  const today = await ok(stdio, 'revenue_by_category');
  const expected = (await martRows()).filter((r) => r.order_date === fx.today);
  assert.equal(expected.length, 3);
  assert.deepEqual(today.rows, expected);
  assert.deepEqual(today.total, { revenue: '1120.59', orders: '5' });
  assert.equal(today.from, fx.today);

  const range = await ok(stdio, 'revenue_by_category', { from: fx.yesterday, to: fx.today });
  assert.deepEqual(range.rows, await martRows());
  const bad = await call(stdio, 'revenue_by_category', { from: fx.today, to: fx.yesterday });
  assert.equal(bad._meta?.sluiceErrorCode, 'SLUICE_ERR_MCP_QUERY_FAILED');
});

test('stdio: query_gold binds $1..$n parameters and never splices them into the SQL', async () => {
  const r = await ok(stdio, 'query_gold', {
    sql:
      'select category, revenue::text as revenue, orders from mart_revenue_daily ' +
      'where order_date = $1::date and revenue > $2 order by category',
    params: [fx.today, 1],
  });
  const { rows } = await fx.admin.query(
    `select category, revenue::text as revenue, orders from ${fx.admin.escapeIdentifier(fx.gold)}.mart_revenue_daily
      where order_date = $1::date and revenue > $2 order by category`,
    [fx.today, 1],
  );
  assert.deepEqual(r.rows, rows);
  assert.deepEqual(r.columns, [
    { name: 'category', type: 'text' },
    { name: 'revenue', type: 'text' },
    { name: 'orders', type: 'bigint' },
  ]);
  assert.equal(r.schema, fx.gold);
  // A value that would be an injection if spliced in is only a value.
  const hostile = await ok(stdio, 'query_gold', {
    sql: 'select count(*)::int as n from mart_revenue_daily where category = $1',
    params: ["books'; delete from mart_revenue_daily; --"],
  });
  assert.deepEqual(hostile.rows, [{ n: 0 }]);
  const who = await ok(stdio, 'query_gold', {
    sql: 'select current_user as who, current_setting($1) as ro',
    params: ['transaction_read_only'],
  });
  assert.deepEqual(who.rows, [{ who: fx.reader, ro: 'on' }]);
});

test('stdio: writes, DDL, SET ROLE, set_config, multiple statements and other schemas are refused; the data is unchanged', async () => {
  const before = await martRows();
  const refused = 'SLUICE_ERR_MCP_QUERY_REFUSED';
  for (const sql of [
    'delete from mart_revenue_daily',
    "update mart_revenue_daily set revenue = 0 where category = 'books'",
    "insert into mart_revenue_daily (order_date, category, revenue, orders, avg_order_value) values (now(), 'x', 1, 1, 1)",
    'create table stolen (x int)',
    'drop table mart_revenue_daily',
    'truncate mart_revenue_daily',
    `set role ${cfg.pgUser}`,
    `select set_config('role', '${cfg.pgUser}', false)`,
    "select set_config('transaction_read_only', 'off', true)",
    'with gone as (delete from mart_revenue_daily returning *) select count(*) from gone',
    'select 1; delete from mart_revenue_daily',
    'select * from pg_authid',
    'select lo_create(0)',
    'select pg_reload_conf()',
  ])
    await refusedWith(stdio, refused, { sql });
  // A statement that ends its own session is an error for that call, not a crash of the server.
  const killed = await call(stdio, 'query_gold', { sql: 'select pg_terminate_backend(pg_backend_pid())' });
  assert.equal(killed.isError, true);
  assert.deepEqual(await martRows(), before);
  // The server is still there, and the session is clean after every refusal.
  const after = await ok(stdio, 'query_gold', { sql: 'select current_user as who', params: [] });
  assert.deepEqual(after.rows, [{ who: fx.reader }]);
});

test('stdio: a statement over SLUICE_MCP_STATEMENT_TIMEOUT_MS is cancelled, and rows beyond SLUICE_MCP_MAX_ROWS are cut off', async () => {
  await refusedWith(stdio, 'SLUICE_ERR_MCP_QUERY_TIMEOUT', { sql: 'select pg_sleep(10)' });
  const cut = await ok(stdio, 'query_gold', { sql: 'select g from generate_series(1, $1::int) g', params: [20] });
  assert.deepEqual(
    cut.rows,
    [1, 2, 3, 4, 5].map((g) => ({ g })),
  );
  assert.equal(cut.truncated, true);
  assert.equal(cut.maxRows, 5);
  const exact = await ok(stdio, 'query_gold', { sql: 'select g from generate_series(1, 5) g' });
  assert.equal(exact.rowCount, 5);
  assert.equal(exact.truncated, false);
  const fewer = await ok(stdio, 'query_gold', { sql: 'select g from generate_series(1, 5) g', max_rows: 2 });
  assert.deepEqual([fewer.rowCount, fewer.truncated], [2, true]);
  const typo = await call(stdio, 'query_gold', { sql: 'select nope from mart_revenue_daily' });
  assert.equal(typo._meta?.sluiceErrorCode, 'SLUICE_ERR_MCP_QUERY_FAILED');
});

test('stdio: latest_metrics returns the newest windows of a metric, the final result per key', async () => {
  const r = await ok(stdio, 'latest_metrics', { metric: fx.metric.metric, windows: 2 });
  const windows = r.windows as {
    start: string;
    final: boolean;
    results: { key: string; value: { category: string; revenue: number }; final: boolean }[];
  }[];
  assert.deepEqual(
    windows.map((w) => w.start),
    [fx.windows[2], fx.windows[1]].map((ms) => new Date(ms).toISOString()),
  );
  assert.deepEqual(
    windows[0].results.map((x) => [x.value.category, x.value.revenue, x.final]),
    [
      ['books', 100, true],
      ['games', 22, true],
    ],
  );
  assert.equal(windows[0].final, true);
  const books = await ok(stdio, 'latest_metrics', { metric: fx.metric.metric, key: 'games', windows: 5 });
  assert.deepEqual(
    (books.windows as typeof windows).map((w) => w.results.map((x) => x.value.revenue)),
    [[22], [21], [20]],
  );
  const unknown = await call(stdio, 'latest_metrics', { metric: `${fx.metric.metric}_nope` });
  assert.equal(unknown._meta?.sluiceErrorCode, 'SLUICE_ERR_MCP_NOT_FOUND');
  assert.match((unknown.content[0] as { text: string }).text, new RegExp(fx.metric.metric));
});

test('stdio: dlq_summary counts by reason and rule, shows examples with their coordinates, personal data masked', async () => {
  const r = await ok(stdio, 'dlq_summary', { topic: fx.dlqSource, examples: 3 });
  const [s] = r.topics as Record<string, unknown>[] & { examples: Record<string, unknown>[] }[];
  assert.equal(s.topic, fx.dlq);
  assert.equal(s.total, 3);
  assert.equal(s.scanned, 3);
  assert.deepEqual(s.byReason, { rule: 2, deserialize: 1 });
  assert.deepEqual(s.byRule, { country_known: 2 });
  assert.deepEqual(s.byTopology, { customers: 3 });
  const [newest, , oldest] = s.examples as Record<string, any>[];
  assert.deepEqual(
    (s.examples as Record<string, any>[]).map((e) => e.source),
    [9, 8, 7].map((o) => ({ topic: fx.dlqSource, partition: 1, offset: String(o) })),
  );
  assert.equal(oldest.reason, 'rule');
  assert.equal(oldest.rule, 'country_known');
  assert.equal(oldest.value.email, '[redacted]');
  assert.equal(oldest.value.customer_id, 7);
  assert.ok(oldest.piiMasked.includes('email'));
  assert.equal(newest.reason, 'deserialize');
  assert.equal(newest.value.undecodable, true);
  assert.doesNotMatch(JSON.stringify(r), /@shop\.test/, 'no email, decoded or as bytes, reaches the client');
  const missing = await call(stdio, 'dlq_summary', { topic: `${fx.prefix}.nothing` });
  assert.equal(missing._meta?.sluiceErrorCode, 'SLUICE_ERR_MCP_NOT_FOUND');
});

test('stdio: incidents lists the open incident of the incidents topic', async () => {
  const r = await ok(stdio, 'incidents', { status: 'open' });
  assert.equal(r.topic, fx.incidentsTopic);
  assert.equal(r.open, 1);
  assert.deepEqual(r.incidents, [fx.incident]);
});

test('stdio: list_catalog returns the catalog entries matching a filter, as the catalog module builds them', async () => {
  const r = await ok(stdio, 'list_catalog', { filter: 'email' });
  const expected = declaredCatalog(cfg).filter((e) =>
    JSON.stringify([e.name, e.description, e.owner, e.fields.map((f) => [f.name, f.doc])])
      .toLowerCase()
      .includes('email'),
  );
  assert.ok(expected.length > 0);
  assert.deepEqual(
    (r.entries as { name: string }[]).map((e) => e.name),
    expected.map((e) => e.name),
  );
  assert.ok((r.entries as { name: string }[]).some((e) => e.name === 'oltp.customers'));
  const tables = await ok(stdio, 'list_catalog', { kind: 'table', live: true });
  assert.ok((tables.entries as { kind: string }[]).every((e) => e.kind === 'table'));
  const factOrders = (tables.entries as { name: string; warehouse?: { status: string } }[]).find(
    (e) => e.name === 'warehouse:gold.fact_orders',
  );
  assert.equal(factOrders?.warehouse?.status, 'ok', 'live facts come from the warehouse');
});

test('stdio: the reader password is generated into the stack secrets (mode 600) and never printed', () => {
  const file = stackSecretFile(cfg.stackDir, 'mcp-reader-password' as StackSecret);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const password = readFileSync(file, 'utf8').trim();
  assert.ok(password.length >= 20);
  assert.ok(!stdioStderr.includes(password) && !http.stderr().includes(password));
  assert.ok(!http.stderr().includes('it-token-0123456789'));
});

test('http: without the bearer token 401, from a foreign Origin or Host 403; with it the SDK client works', async () => {
  const init = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
  const post = (headers: Record<string, string>) =>
    fetch(http.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(init),
    });
  const none = await post({});
  assert.equal(none.status, 401);
  assert.match(await none.text(), /SLUICE_ERR_MCP_UNAUTHORIZED/);
  assert.equal((await post({ authorization: 'Bearer wrong' })).status, 401);
  const auth = { authorization: 'Bearer it-token-0123456789' };
  assert.equal((await post({ ...auth, origin: 'https://evil.example' })).status, 403);
  // fetch cannot set Host: what a DNS-rebinding page sends, through node:http.
  assert.equal(await statusWithHost(http.url, 'evil.example', auth), 403);
  assert.equal(await statusWithHost(http.url, 'localhost', { ...auth, origin: 'http://localhost:3000' }), 406);

  const unauthorised = new Client({ name: 'no-token', version: '1.0.0' });
  await assert.rejects(unauthorised.connect(new StreamableHTTPClientTransport(new URL(http.url))));

  const client = new Client({ name: 'sluice-it-http', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: auth } }));
  try {
    assert.deepEqual(
      (await client.listTools()).tools.map((t) => t.name),
      [...MCP_TOOL_NAMES],
    );
    const today = await ok(client, 'revenue_by_category', { date: fx.today });
    assert.deepEqual(
      today.rows,
      (await martRows()).filter((r) => r.order_date === fx.today),
    );
    const before = await martRows();
    await refusedWith(client, 'SLUICE_ERR_MCP_QUERY_REFUSED', { sql: 'delete from mart_revenue_daily' });
    assert.deepEqual(await martRows(), before);
    // A table the admin role creates after the server started is readable too (default privileges).
    await fx.admin.query(`create table ${fx.admin.escapeIdentifier(fx.gold)}.late_table as select 42 as answer`);
    const late = await ok(client, 'query_gold', { sql: 'select answer from late_table' });
    assert.deepEqual(late.rows, [{ answer: 42 }]);
  } finally {
    await client.close();
  }
});
