import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { createMcpServer } from '../mcp/createMcpServer.ts';
import { createMcpDeps } from '../mcp/mcpDeps.ts';
import { startMcpHttpServer } from '../mcp/mcpHttpServer.ts';
import { mcpTokenOf } from '../mcp/mcpSecrets.ts';
import { ensureReaderRole } from '../mcp/ensureReaderRole.ts';
import { portNumber } from './argParsers.ts';
import { requireServices } from './requireServices.ts';

/**
 * `sluice mcp [--http [--host H] [--port P]]`: an MCP server with read-only tools over the
 * catalog, the live metrics, the DLQs, the incidents and the gold warehouse schema. stdio by
 * default (the client starts it; stdout carries the protocol, logs go to stderr); Streamable HTTP
 * at /mcp with `--http`, behind a bearer token. At start it makes sure the read-only Postgres role
 * exists with its grants (src/mcp/ensureReaderRole.ts).
 */

/** Registers `mcp`. */
export function mcpCommand(program: Command): void {
  program
    .command('mcp')
    .description(
      'MCP server (stdio, or Streamable HTTP with --http) with read-only tools: catalog, latest metrics, ' +
        'DLQ summary, incidents, revenue by category and SQL over the gold schema',
    )
    .option('--http', 'serve Streamable HTTP at /mcp instead of stdio (bearer token required)')
    .option('--host <address>', 'HTTP bind address (default: SLUICE_MCP_HOST)')
    .option('--port <n>', 'HTTP port (default: SLUICE_MCP_PORT; 0 picks a free one)', portNumber)
    .action(async (opts: { http?: boolean; host?: string; port?: number }) => {
      const cfg = loadConfig();
      await requireServices(cfg, ['postgres']);
      await ensureReaderRole(cfg);
      const deps = createMcpDeps(cfg);
      let stop: () => Promise<void>;
      if (opts.http) {
        const srv = await startMcpHttpServer(deps, {
          host: opts.host ?? cfg.mcpHost,
          port: opts.port ?? cfg.mcpPort,
          token: mcpTokenOf(cfg),
        });
        // The token is never printed: where to find it is (secrets stay out of logs).
        process.stderr.write(`sluice mcp: Streamable HTTP at ${srv.url} (Authorization: Bearer <SLUICE_MCP_TOKEN>)\n`);
        stop = srv.close;
      } else {
        const server = createMcpServer(deps);
        await server.connect(new StdioServerTransport());
        stop = () => server.close();
        // The client ends the session by closing our stdin.
        process.stdin.once('end', () => void shutdown());
      }
      let stopping = false;
      async function shutdown(): Promise<void> {
        if (stopping) return;
        stopping = true;
        await stop().catch(() => {});
        await deps.close().catch(() => {});
        process.exit(0);
      }
      process.once('SIGTERM', () => void shutdown());
      process.once('SIGINT', () => void shutdown());
      await new Promise(() => {});
    });
}
