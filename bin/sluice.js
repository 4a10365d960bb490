#!/usr/bin/env node
// Runs the CLI on the project's pinned Node 24 (npm package `node`), whatever `node` is on PATH:
// the sources are TypeScript executed by Node 24's type stripping.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
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
// The CLI runs in its own process group, so every signal reaches it through this wrapper exactly
// once, however it was started. In the wrapper's group, Ctrl-C reached it straight from the
// terminal, so the wrapper could not forward SIGINT (one keypress would arrive twice, read as
// "again: force") and a `kill -INT` of the wrapper or of `npx sluice` did nothing.
const child = spawn(node, [...NODE_FLAGS, path.join(root, 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  detached: process.platform !== 'win32', // on Windows, a detached child gets a console of its own
});
let lastForward = 0;
const forward = (sig) => {
  lastForward = Date.now();
  if (child.exitCode === null && child.signalCode === null) child.kill(sig);
};
let lastInt = 0;
process.on('SIGINT', () => {
  // npm passes its SIGINT on to its child, which also had it from the terminal: one keypress.
  if (Date.now() - lastInt > 300) forward('SIGINT');
  lastInt = Date.now();
});
for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => forward(sig));
process.on('SIGWINCH', () => child.exitCode === null && child.kill('SIGWINCH')); // the terminal was resized
// Under npm (`npx sluice`, `npm exec`, `npm run`), npm passes a signal to the shell it started
// only. A shell that dies of it (SIGTERM, SIGHUP) leaves this wrapper re-parented: stop the CLI.
// (dash holds a SIGINT until its child ends: `kill -INT` the pid the demo prints instead.)
if (process.env.npm_command !== undefined || process.env.npm_lifecycle_event !== undefined) {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    // Not after a Ctrl-C, which killed the shell too and reached the CLI already.
    if (Date.now() - lastForward > 2000) forward('SIGTERM');
  }, 500);
  watch.unref();
}
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
