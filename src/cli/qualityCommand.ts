import type { Command } from 'commander';
import { terminalSafe } from '../admin/terminalSafe.ts';
import { loadConfig } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { createKafkaClient } from '../kafka/createKafkaClient.ts';
import { exampleFailures, type QualityExample } from '../quality/qualityExamples.ts';
import { buildQualityReport, formatQualityReport } from '../quality/qualityReport.ts';
import { type QualityScore, readQualityScores } from '../quality/qualityScores.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import { requireServices } from './requireServices.ts';

/**
 * `sluice quality`: the quality scores of every suite (a topology's source topic and its rules)
 * from the counts the runners publish, with example failures from the DLQs. Exit 1 when an
 * expectation is under its alert threshold over the last hour, for CI and cron; warnings exit 0,
 * like `sluice check`.
 */

/** Registers `quality`. */
export function qualityCommand(program: Command): void {
  program
    .command('quality')
    .description(
      'Quality scores per topic and rule (pass rate over 5 min, 1 h, 1 day) with example failures;' +
        ' exit 1 when one is under its alert threshold',
    )
    .option('--json', 'print JSON')
    .option('--examples <n>', 'example failures per expectation', '3')
    .action(async (flags: { json?: boolean; examples: string }) => {
      const perExpectation = Number(flags.examples);
      if (!Number.isInteger(perExpectation) || perExpectation < 0)
        throw new SluiceError('CLI_USAGE', `--examples ${flags.examples}: expected a whole number, 0 or more`);
      const cfg = loadConfig();
      await requireServices(cfg, ['kafka']);
      const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-quality`, { quiet: true });
      const now = Date.now();
      const scores = await readQualityScores(cfg, { now, kafka });
      const examples = perExpectation ? await examplesOf(kafka, scores, perExpectation) : new Map();
      const report = buildQualityReport(scores, examples, now);
      const out = flags.json ? JSON.stringify(report, null, 2) : formatQualityReport(report);
      process.stdout.write(`${terminalSafe(out)}\n`);
      if (report.ok) return;
      const under = scores.filter((s) => s.state === 'alert').map((s) => `${s.topic}:${s.rule}`);
      const shown = under.slice(0, 3).join(', ') + (under.length > 3 ? ` and ${under.length - 3} more` : '');
      throw new SluiceError(
        'QUALITY_UNDER_THRESHOLD',
        `${under.length} of ${scores.length} expectations under their alert threshold: ${shown}`,
      );
    });
}

/** Examples of every expectation that failed in the last day, read from each suite's DLQ at once. */
async function examplesOf(
  kafka: ReturnType<typeof createKafkaClient>,
  scores: readonly QualityScore[],
  perExpectation: number,
): Promise<Map<string, QualityExample[]>> {
  const wanted = new Map<string, { topology: string; topic: string; rules: Set<string> }>();
  for (const s of scores) {
    if (!s.windows['1d'].failed) continue;
    const id = `${s.topology}|${s.topic}`;
    const w = wanted.get(id) ?? { topology: s.topology, topic: s.topic, rules: new Set<string>() };
    w.rules.add(s.rule);
    wanted.set(id, w);
  }
  const out = new Map<string, QualityExample[]>();
  await Promise.all(
    [...wanted].map(async ([id, w]) => {
      const found = await exampleFailures(kafka, { ...w, dlq: dlqTopicOf(w) }, w.rules, perExpectation);
      for (const [rule, list] of found) out.set(`${id}|${rule}`, list);
    }),
  );
  return out;
}
