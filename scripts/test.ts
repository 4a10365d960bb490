/**
 * `npm test`: starts the real local stack (if it is not up), runs unit and integration tests in
 * one node:test run (one summary), and stops the stack afterwards if this script started it,
 * even when tests fail. `npm test -- unit` runs the unit tests alone, without the stack.
 */
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../src/config/config.ts';
import { stackDown, stackStatus, stackUp } from '../src/stack/stack.ts';

const only = process.argv[2];
const say = (l: string) => process.stdout.write(`${l}\n`);
const globs =
  only === 'unit'
    ? ['test/unit/**/*.test.ts']
    : only === 'integration'
      ? ['test/integration/**/*.test.ts']
      : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'];
const needsStack = only !== 'unit';

const cfg = loadConfig();
let startedHere = false;
let status = 1;
try {
  if (needsStack) {
    startedHere = !(await stackStatus(cfg)).every((s) => s.healthy);
    const t0 = Date.now();
    await stackUp(cfg, say);
    say(`local stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  const res = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=900000', ...globs], {
    stdio: 'inherit',
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'error' },
  });
  status = res.status ?? 1;
} finally {
  if (startedHere && !process.env.SLUICE_KEEP_STACK) await stackDown(cfg, say);
}
process.exit(status);
