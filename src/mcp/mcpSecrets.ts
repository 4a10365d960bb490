import type { Config, StackSecret } from '../config/config.ts';
import { ensureStackSecret } from '../stack/secrets.ts';

/**
 * The two secrets of `sluice mcp`: the bearer token its HTTP transport requires and the password
 * of its read-only Postgres role. Each is the configured value (or its _FILE) when set, else one
 * generated on first use into the stack directory (mode 600), the way the feed token is, so the
 * server is never open and the role never has a guessable password by default.
 */

// Names of the generated files under <stack>/secrets/.
const MCP_TOKEN: StackSecret = 'mcp-token';
const MCP_READER_PASSWORD: StackSecret = 'mcp-reader-password';

/** The HTTP bearer token: SLUICE_MCP_TOKEN, else the generated `<stack>/secrets/mcp-token`. */
export function mcpTokenOf(cfg: Config): string {
  return cfg.mcpToken || ensureStackSecret(cfg.stackDir, MCP_TOKEN);
}

/** The reader role's password: SLUICE_MCP_READER_PASSWORD, else `<stack>/secrets/mcp-reader-password`. */
export function mcpReaderPasswordOf(cfg: Config): string {
  return cfg.mcpReaderPassword || ensureStackSecret(cfg.stackDir, MCP_READER_PASSWORD);
}
