import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../../src/stack/processes.ts';

test('a process that exited but was not reaped (a zombie) is not alive', async () => {
  // The shell's background child exits at once; `exec sleep` replaces the shell and never reaps it.
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
  const zombie = Number(line.toString().trim());
  try {
    await sleep(300);
    assert.equal(isAlive(zombie), false, `pid ${zombie} has exited`);
    assert.equal(isAlive(parent.pid!), true, 'a running process is alive');
  } finally {
    parent.kill('SIGKILL');
  }
});
