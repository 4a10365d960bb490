import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fetchOnce } from '../../../src/stack/fetchOnce.ts';

const MODULE = pathToFileURL(path.resolve(import.meta.dirname, '../../../src/stack/fetchOnce.ts')).href;

/** A process that fetches `dir` slowly (1.5 s), appending its pid to `log` when its fetch runs. */
function fetcher(dir: string, log: string): Promise<number | null> {
  const script = `
    import { appendFileSync, writeFileSync } from 'node:fs';
    import { fetchOnce } from ${JSON.stringify(MODULE)};
    fetchOnce(${JSON.stringify(dir)}, (tmp) => {
      appendFileSync(${JSON.stringify(log)}, process.pid + '\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
      writeFileSync(tmp + '/artifact.jar', 'jar');
    });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
  return once(child, 'exit').then(([code]) => code as number | null);
}

const leftovers = (cache: string) => readdirSync(cache).filter((n) => n.includes('.partial') || n.endsWith('.lock'));

test('two first runs at once on an empty cache: one fetches, the other waits and uses it; nothing left behind', async () => {
  const cache = mkdtempSync(path.join(tmpdir(), 'sluice-fetch-'));
  const dir = path.join(cache, 'apicurio-3.0.9');
  const log = path.join(cache, 'fetches.log');
  const codes = await Promise.all([fetcher(dir, log), fetcher(dir, log), fetcher(dir, log)]);
  assert.deepEqual(codes, [0, 0, 0], 'every process succeeds');
  assert.equal(readFileSync(log, 'utf8').trim().split('\n').length, 1, 'the artifact was fetched once');
  assert.equal(readFileSync(path.join(dir, 'artifact.jar'), 'utf8'), 'jar');
  assert.deepEqual(leftovers(cache), []);
});

test('a lock and a temp directory left by a killed fetch are taken over and removed', () => {
  const cache = mkdtempSync(path.join(tmpdir(), 'sluice-fetch-'));
  const dir = path.join(cache, 'kafka-4.1.1');
  // A pid that is not running: the highest possible on Linux plus one is never assigned.
  mkdirSync(`${dir}.lock`);
  writeFileSync(`${dir}.lock/pid`, '4194305\n');
  mkdirSync(`${dir}.partial-4194305-dead`);
  mkdirSync(`${dir}.partial`); // the old fixed name
  let fetched = 0;
  fetchOnce(dir, (tmp) => {
    fetched++;
    writeFileSync(path.join(tmp, 'kafka.jar'), 'k');
  });
  assert.equal(fetched, 1);
  assert.ok(existsSync(path.join(dir, 'kafka.jar')));
  assert.deepEqual(leftovers(cache), []);
});

test('a failed fetch leaves no temp directory and no lock, and the next run fetches again', () => {
  const cache = mkdtempSync(path.join(tmpdir(), 'sluice-fetch-'));
  const dir = path.join(cache, 's3proxy-4.1.0');
  assert.throws(
    () =>
      fetchOnce(dir, () => {
        throw new Error('Maven Central unreachable');
      }),
    /unreachable/,
  );
  assert.ok(!existsSync(dir));
  assert.deepEqual(leftovers(cache), []);
  fetchOnce(dir, (tmp) => writeFileSync(path.join(tmp, 's3proxy.jar'), 's'));
  assert.ok(existsSync(path.join(dir, 's3proxy.jar')));
});

test('a lock held by a live process is waited for, with an error naming the holder when the wait runs out', () => {
  const cache = mkdtempSync(path.join(tmpdir(), 'sluice-fetch-'));
  const dir = path.join(cache, 'apicurio-3.0.9');
  mkdirSync(`${dir}.lock`);
  writeFileSync(`${dir}.lock/pid`, `${process.pid}\n`); // alive: this test process
  assert.throws(
    () => fetchOnce(dir, () => assert.fail('must not fetch while another holds the lock'), { lockWaitMs: 600 }),
    (err: Error & { code?: string }) =>
      err.code === 'SLUICE_ERR_STACK_FETCH_FAILED' && err.message.includes(`process ${process.pid}`),
  );
});
