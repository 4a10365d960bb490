import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/config.ts';

/** What a finished `sluice` command left: its exit code and everything it printed. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const SLUICE = path.join(PROJECT_ROOT, 'bin', 'sluice.js');

/**
 * Runs `sluice <args>` as a user would (`bin/sluice.js`, this process's environment plus `env`)
 * and resolves when it exits, with its whole output.
 *
 * @example const { code, stdout } = await runSluice(['check', '--json']);
 */
export function runSluice(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
