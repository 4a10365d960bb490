#!/usr/bin/env node
// Runs the CLI on the project's pinned Node 24 (npm package `node`), whatever `node` is on PATH:
// the sources are TypeScript executed by Node 24's type stripping.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from './nodeFlags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pinned = path.join(root, 'node_modules', '.bin', 'node');
const major = Number(process.versions.node.split('.')[0]);
const node = major >= 24 ? process.execPath : existsSync(pinned) ? pinned : undefined;
if (!node) {
  process.stderr.write(
    'error SLUICE_ERR_STACK_PREREQUISITE_MISSING: Node 24 not found; run `npm ci` in the project first\n',
  );
  process.exit(1);
}
const child = spawn(node, [...NODE_FLAGS, path.join(root, 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
// Forward termination so a supervisor's SIGTERM reaches the runner and it can drain and commit.
// Not SIGINT: Ctrl-C already reaches the whole foreground process group, child included, and
// forwarding it would deliver one keypress twice (read as "again: force"). The wrapper itself
// just waits for the child to finish its clean stop.
for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
process.on('SIGINT', () => {});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
