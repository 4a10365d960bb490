import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../../src/config/config.ts';

/**
 * SIGINT and SIGTERM reach the CLI behind bin/sluice.js (which re-runs it on the pinned Node with
 * its flags), however it was started. `sluice feed` waits without any service (Kafka is
 * unreachable here) and says which signal it got; closing it then takes a while, so the test
 * kills what it started once the CLI has answered.
 */
const SLUICE = path.join(PROJECT_ROOT, 'bin', 'sluice.js');
const ENV = {
  ...process.env,
  SLUICE_KAFKA_BROKERS: '127.0.0.1:1',
  SLUICE_STACK_DIR: mkdtempSync(path.join(tmpdir(), 'sluice-signals-')),
  SLUICE_LOG_LEVEL: 'fatal',
};

after(() => rmSync(ENV.SLUICE_STACK_DIR, { recursive: true, force: true }));

const settle = () => new Promise((r) => setTimeout(r, 500));

/** The pids of `pid`'s children. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** `pid` and its descendants, parents first. */
function tree(pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(tree)];
}

function killAll(pids: number[]): void {
  for (const pid of pids)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
}

/** Resolves with everything `stream` printed once `pattern` matched (rejects after `ms`). */
function waitFor(proc: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} on ${stream} within ${ms} ms:\n${text}`)), ms);
    proc[stream]?.on('data', (chunk) => {
      text += chunk;
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

test('SIGINT sent to the bin wrapper alone reaches the CLI (once), which stops', async () => {
  const wrapper = spawn(process.execPath, [SLUICE, 'feed', '--port', '0'], { env: ENV, cwd: PROJECT_ROOT });
  try {
    await waitFor(wrapper, 'stdout', /sluice feed: dashboard/);
    await settle(); // the feed installs its handlers right after that line
    const stderr = waitFor(wrapper, 'stderr', /SIGINT: closing the feed/, 10_000);
    process.kill(wrapper.pid as number, 'SIGINT'); // the wrapper's pid only: as `kill -INT <pid>`
    const text = await stderr;
    assert.equal(text.match(/SIGINT/g)?.length, 1);
  } finally {
    killAll(tree(wrapper.pid as number));
  }
});

test('started by npm through a shell that dies of the signal, the CLI is stopped too', async () => {
  // `npx sluice` and `npm run` start a shell that starts the wrapper; npm passes a signal to the
  // shell only. A shell killed by it leaves the wrapper re-parented, which then stops the CLI.
  const shell = spawn('sh', ['-c', `"${process.execPath}" "${SLUICE}" feed --port 0; exit $?`], {
    env: { ...ENV, npm_command: 'exec' },
    cwd: PROJECT_ROOT,
  });
  let started: number[] = [];
  try {
    await waitFor(shell, 'stdout', /sluice feed: dashboard/);
    await settle();
    started = tree(shell.pid as number); // shell, wrapper, CLI
    assert.equal(started.length, 3, 'the shell stays between npm and the wrapper');
    const stderr = waitFor(shell, 'stderr', /SIGTERM: closing the feed/, 10_000);
    process.kill(shell.pid as number, 'SIGTERM');
    await stderr;
  } finally {
    killAll(started.length ? started : tree(shell.pid as number));
  }
});
