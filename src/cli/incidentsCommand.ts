import type { Command } from 'commander';
import { terminalSafe } from '../admin/terminalSafe.ts';
import { formatIncidentsTable, listedIncidents } from '../alerts/formatIncidents.ts';
import { readIncidents } from '../alerts/incidentStore.ts';
import { sortIncidents } from '../alerts/incidentTracker.ts';
import { loadConfig } from '../config/config.ts';
import { parseDuration } from '../core/pacing.ts';
import { SluiceError } from '../core/errors.ts';
import { createKafkaClient } from '../kafka/createKafkaClient.ts';
import { requireServices } from './requireServices.ts';

/** Registers `incidents`: the open and recently resolved incidents, as the incidents topic holds them. */
export function incidentsCommand(program: Command): void {
  program
    .command('incidents')
    .description('Open and recently resolved incidents from the incidents topic (written by `sluice alerts`)')
    .option('--json', 'print JSON')
    .option('--recent <duration>', 'resolved incidents shown for this long after they resolved', '24h')
    .action(async (flags: { json?: boolean; recent: string }) => {
      const cfg = loadConfig();
      let recentMs: number;
      try {
        recentMs = parseDuration(flags.recent);
      } catch (err) {
        throw new SluiceError('CLI_USAGE', `--recent: ${(err as Error).message}`);
      }
      await requireServices(cfg, ['kafka']);
      const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-incidents`, { quiet: true });
      const now = Date.now();
      const incidents = sortIncidents(
        listedIncidents([...(await readIncidents(kafka, cfg.incidentsTopic)).values()], now, recentMs),
      );
      const open = incidents.filter((i) => i.status === 'open').length;
      const out = flags.json
        ? JSON.stringify({ open, resolved: incidents.length - open, incidents }, null, 2)
        : formatIncidentsTable(incidents, now);
      process.stdout.write(`${terminalSafe(out)}\n`);
    });
}
