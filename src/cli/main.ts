import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/config.ts';
import { ERROR_CATALOGUE, errorCode, isSluiceError } from '../core/errors.ts';
import { devCommand } from './devCommand.ts';
import { demoCommand } from './demoCommand.ts';
import { configCommand } from './configCommand.ts';
import { runCommand } from './runCommand.ts';
import { describeCommand } from './describeCommand.ts';
import { generateCommand } from './generateCommand.ts';
import { extractCommand } from './extractCommand.ts';
import { replayDlqCommand } from './replayDlqCommand.ts';
import { inspectCommand } from './inspectCommand.ts';
import { topicsCommand } from './topicsCommand.ts';
import { checkCommand } from './checkCommand.ts';
import { freshnessCommand } from './freshnessCommand.ts';
import { qualityCommand } from './qualityCommand.ts';
import { catalogCommand } from './catalogCommand.ts';
import { alertsCommand } from './alertsCommand.ts';
import { incidentsCommand } from './incidentsCommand.ts';
import { feedCommand } from './feedCommand.ts';
import { mcpCommand } from './mcpCommand.ts';
import { exitAfterOutput } from './exitAfterOutput.ts';

/** `sluice` — every subcommand lives in its own module and registers itself here. */
export function buildCli(): Command {
  const program = new Command('sluice')
    .description('Stream-processing-first event engine for commerce data')
    .version(packageVersion(), '-V, --version', 'print the version')
    // Usage errors carry the catalogue's code like every other error (subcommands inherit this).
    .configureOutput({
      outputError: (text, write) => write(`error ${errorCode('CLI_USAGE')}: ${text.replace(/^error: /, '')}`),
    })
    .showHelpAfterError()
    .exitOverride();
  for (const register of [
    demoCommand,
    devCommand,
    runCommand,
    extractCommand,
    generateCommand,
    replayDlqCommand,
    inspectCommand,
    topicsCommand,
    checkCommand,
    freshnessCommand,
    qualityCommand,
    catalogCommand,
    alertsCommand,
    incidentsCommand,
    feedCommand,
    mcpCommand,
    describeCommand,
    configCommand,
  ])
    register(program);
  return program;
}

/** The version in package.json. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildCli().parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (isSluiceError(err)) {
      process.stderr.write(`error ${err.code}: ${err.message}\n  → ${err.hint}\n`);
      return 1;
    }
    // The stack is for us; a person gets the message (SLUICE_LOG_LEVEL=debug shows the stack).
    const debug = process.env.SLUICE_LOG_LEVEL === 'debug' || process.env.SLUICE_LOG_LEVEL === 'trace';
    const text = debug ? ((err as Error)?.stack ?? String(err)) : ((err as Error)?.message ?? String(err));
    process.stderr.write(`error SLUICE_ERR_INTERNAL: ${text}\n  → ${ERROR_CATALOGUE.INTERNAL[1]}\n`);
    return 1;
  }
}

if (import.meta.main) await exitAfterOutput(await main(process.argv.slice(2)));
