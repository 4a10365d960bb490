import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readQualityScores } from '../../../src/quality/qualityScores.ts';
import type { QualityReport } from '../../../src/quality/qualityReport.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { notNull, regex } from '../../../src/topology/rules.ts';
import { runSluice } from '../../support/cli.ts';
import { customersSource } from '../../support/customersSource.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * Issue 14's fault "a rule breaking for 10 % of records", end to end on the real stack: a runner
 * validates customers where every tenth has no email, publishes its per-minute counts to its own
 * quality topic, and the score (90 %) is read back from that topic, from the runner's /metrics and
 * from `sluice quality --json` (exit 1 under the 95 % alert threshold, 0 when the threshold allows it).
 */
test('a rule failing for 10 % of records scores 90 % on the quality topic, /metrics and sluice quality', async () => {
  const prefix = uniqueName('itq');
  const source = `${prefix}.oltp.customers`;
  const qualityTopic = `${prefix}.sluice.quality`;
  const topology = prefix.replace(/[^a-z0-9_]/g, '_');
  const cfg = { ...(await realStack()), httpPort: 0, qualityTopic, qualityPublishIntervalMs: 1000 };
  const def = defineTopology({
    name: topology,
    sources: [{ topic: source, schema: 'oltp.customers' }],
    rules: [notNull('email_present', 'email'), regex('email_format', 'email', /@/)],
    outputs: [{ topic: `${prefix}.silver.customers`, schema: 'silver.customers' }],
    pipeline: ({ sources, ops }) =>
      sources[source].pipe(
        ops.decode(),
        ops.validate(['email_present', 'email_format']),
        ops.toTopic(`${prefix}.silver.customers`),
      ),
  });
  const { kafka, row, encode } = await customersSource(cfg, source, { clientId: 'it-quality' });
  const total = 200;
  const broken = new Set<string>();
  const messages = Array.from({ length: total }, (_, i) => {
    if (i % 10 === 0) broken.add(`k${i}`);
    return { key: `k${i}`, value: encode(row(i, i % 10 === 0 ? { email: null } : {})) };
  });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: source, acks: -1, messages });
  await producer.disconnect();

  const proc = await startRunnerProcess(cfg, [def], { groupId: uniqueName('itq-group'), feed: false });
  try {
    // Published: the score other processes read, from the quality topic alone.
    const scoreOf = async (rule: string) =>
      (await readQualityScores(cfg, { topologies: [def], kafka })).find((s) => s.topic === source && s.rule === rule);
    const rule = await eventually(
      async () => {
        const s = await scoreOf('email_present');
        return s?.windows['5m'].checked === total ? s : undefined;
      },
      'the published counts of every record',
      60_000,
    );
    assert.deepEqual(rule.windows['5m'], { checked: 200, passed: 180, failed: 20, ratio: 0.9, state: 'alert' });
    assert.equal(rule.windows['1h'].ratio, 0.9);
    assert.equal(rule.windows['1d'].ratio, 0.9);
    assert.equal(rule.state, 'alert');
    assert.deepEqual(rule.threshold, { okAtOrAbove: 0.98, alertBelow: 0.95 });
    const valid = (await scoreOf('valid'))!;
    assert.deepEqual([valid.windows['5m'].checked, valid.windows['5m'].ratio, valid.state], [200, 1, 'ok']);
    // The second rule saw only the records the first let through.
    const format = (await scoreOf('email_format'))!;
    assert.deepEqual([format.windows['5m'].checked, format.windows['5m'].failed], [180, 0]);

    // The runner's own metrics.
    const labels = `topology="${topology}",topic="${source}",rule="email_present"`;
    const metrics = await eventually(async () => {
      const text = await (await fetch(`${proc.url}/metrics`)).text();
      return text.includes(`sluice_quality_pass_ratio{${labels},window="5m"} 0.9`) ? text : undefined;
    }, 'the pass ratio on /metrics');
    assert.match(metrics, new RegExp(`sluice_quality_checked_total\\{${labels}\\} 200`));
    assert.match(metrics, new RegExp(`sluice_quality_failed_total\\{${labels}\\} 20`));

    // The report: exit 1 under the alert threshold, the expectation with examples from the DLQ.
    const env = { SLUICE_QUALITY_TOPIC: qualityTopic };
    const failing = await runSluice(['quality', '--json'], env);
    assert.equal(failing.code, 1, failing.stderr);
    assert.match(failing.stderr, /SLUICE_ERR_QUALITY_UNDER_THRESHOLD: .*email_present/);
    const report = JSON.parse(failing.stdout) as QualityReport;
    assert.equal(report.ok, false);
    const suite = report.suites.find((s) => s.topic === source)!;
    assert.equal(suite.state, 'alert');
    assert.equal(suite.dlq, `${source}.dlq`);
    const e = suite.expectations.find((x) => x.rule === 'email_present')!;
    assert.deepEqual(e.windows['1h'], { checked: 200, passed: 180, failed: 20, ratio: 0.9, state: 'alert' });
    assert.equal(e.examples.length, 3);
    for (const x of e.examples) {
      assert.ok(broken.has(x.key!), `example key ${x.key} is one of the broken records`);
      assert.equal(x.reason, 'rule');
      assert.equal(x.message, 'email is missing');
      assert.ok(Number(x.offset) >= 0 && x.partition >= 0);
    }
    assert.equal(JSON.stringify(report).includes('@shop.test'), false, 'no record contents in the report');

    // A threshold that allows 90 % turns the same scores ok: exit 0.
    const passing = await runSluice(['quality', '--json', '--examples', '0'], {
      ...env,
      SLUICE_QUALITY_THRESHOLDS: `${source}:email_present=90/85`,
    });
    assert.equal(passing.code, 0, passing.stderr);
    const ok = JSON.parse(passing.stdout) as QualityReport;
    assert.equal(ok.ok, true);
    assert.equal(ok.suites.find((s) => s.topic === source)!.state, 'ok');
  } finally {
    await proc.stop();
  }
});
