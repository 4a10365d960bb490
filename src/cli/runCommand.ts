import type { Command } from 'commander';
import { dashboardLine } from '../feed/feedToken.ts';
import { loadConfig, redactedConfig } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { startRunnerProcess } from '../runner/runnerProcess.ts';
import { TOPOLOGIES } from '../../topologies/index.ts';
import { startExtractSchedule } from '../../connectors/postgres/extract/schedule.ts';
import { chooseOltpSource, startCdcInRunner } from '../../connectors/postgres/cdc/runnerCdc.ts';
import { parseDuration } from '../core/pacing.ts';
import { exitAfterOutput } from './exitAfterOutput.ts';
import { startFreshnessSchedule } from '../quality/freshnessSchedule.ts';
import { onWarehouseBatchCommitted } from '../../connectors/postgres/warehouse/loadEvents.ts';
import { loadsWarehouse, startWarehouseTestSchedule } from '../quality/warehouseTestSchedule.ts';

/** The named topologies (all when none are named); an unknown name is a usage error listing the known ones. */
export function selectTopologies(names: string[] | undefined) {
  const chosen = names?.length ? names : Object.keys(TOPOLOGIES);
  return chosen.map((n) => {
    const t = TOPOLOGIES[n];
    if (!t) throw new SluiceError('CLI_USAGE', `unknown topology "${n}"; known: ${Object.keys(TOPOLOGIES).join(', ')}`);
    return t;
  });
}

/** Registers `run`: the topology runner, with the scheduled extract and the live feed unless turned off. */
export function runCommand(program: Command): void {
  program
    .command('run')
    .description('The topology runner: consume, validate, route, commit after durable; HTTP /healthz /readyz /metrics')
    .option('-t, --topology <name...>', 'topologies to run (default: all)')
    .option('--print-config', 'print the effective configuration (secrets redacted) and exit')
    .option(
      '--max-in-flight <n>',
      'records in flight per partition before it waits (default: SLUICE_MAX_IN_FLIGHT_RECORDS)',
    )
    .option('--no-extract', 'do not feed oltp.<table> from Postgres inside the runner (neither extract nor cdc)')
    .option('--source <source>', 'what feeds oltp.<table>: extract (hourly) or cdc (default: SLUICE_OLTP_SOURCE)')
    .option('--no-feed', 'do not serve the live feed (/ws) and the dashboard (/)')
    .option('--extract-interval <duration>', 'how often the Postgres extract runs (e.g. 1h, 5m)', '1h')
    .action(
      async (opts: {
        topology?: string[];
        printConfig?: boolean;
        maxInFlight?: string;
        extract: boolean;
        feed: boolean;
        extractInterval: string;
        source?: string;
      }) => {
        const cfg = loadConfig();
        if (opts.printConfig) {
          process.stdout.write(`${JSON.stringify(redactedConfig(cfg), null, 2)}\n`);
          return;
        }
        // Signals are handled from the first moment: one that arrives while the topologies are still
        // starting (joining groups, restoring state) stops them gracefully once they are up.
        let signalled: string | undefined;
        let shutdown: (() => void) | undefined;
        const onSignal = (sig: string) => {
          if (signalled) return;
          signalled = sig;
          process.stderr.write(`${sig}: draining, committing and leaving the group...\n`);
          shutdown?.();
        };
        process.on('SIGTERM', () => onSignal('SIGTERM'));
        process.on('SIGINT', () => onSignal('SIGINT'));
        const topologies = selectTopologies(opts.topology);
        const cdc = chooseOltpSource(opts.source, cfg) === 'cdc';
        const proc = await startRunnerProcess(cfg, topologies, {
          // The setting unless the flag is given (a default here used to override it: 10,000).
          maxInFlightPerPartition: opts.maxInFlight === undefined ? undefined : Number(opts.maxInFlight),
          feed: opts.feed,
        });
        process.stdout.write(
          `sluice run: ${proc.runners.map((r) => r.def.name).join(', ')} — ${proc.url}/metrics ${proc.url}/readyz\n`,
        );
        if (opts.feed) process.stdout.write(`dashboard: ${dashboardLine(proc.url, cfg)}\n`);
        // The hourly extract of the shop database runs inside the runner (SPEC §3).
        // ...or change data capture instead (--source cdc, SLUICE_OLTP_SOURCE=cdc); a fatal CDC error stops the runner.
        const onCdcFatal = () => void proc.stop().then(() => exitAfterOutput(1));
        const extract =
          opts.extract && !signalled
            ? cdc
              ? startCdcInRunner(cfg, proc.registry, onCdcFatal)
              : startExtractSchedule(cfg, { intervalMs: parseDuration(opts.extractInterval) })
            : undefined;
        // Freshness SLAs into /metrics every SLUICE_FRESHNESS_INTERVAL_MS (0: off).
        const freshness = signalled ? undefined : startFreshnessSchedule(cfg, proc.registry);
        // Warehouse tests into /metrics every SLUICE_WAREHOUSE_TESTS_INTERVAL_MS (0: off), only in the
        // runner that loads the warehouse: one runner testing it is enough, and others may not reach it.
        const warehouseTests =
          signalled || !loadsWarehouse(topologies) ? undefined : startWarehouseTestSchedule(cfg, proc.registry);
        // ...and after each load batch that landed rows (the schedule coalesces these nudges).
        const offLoads = warehouseTests ? onWarehouseBatchCommitted(() => warehouseTests.requestRun()) : undefined;
        shutdown = () => {
          offLoads?.();
          const stops = [extract?.stop(), freshness?.stop(), warehouseTests?.stop(), proc.stop()];
          void Promise.all(stops).then(() => exitAfterOutput(0));
        };
        if (signalled) shutdown();
        const code = await proc.done;
        await freshness?.stop();
        await warehouseTests?.stop();
        await exitAfterOutput(code);
      },
    );
}
