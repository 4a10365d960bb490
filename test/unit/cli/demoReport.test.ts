import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closingLines,
  flowLine,
  formatLanded,
  formatRunFacts,
  type Landed,
} from '../../../src/shop/demo/demoReport.ts';
import { errorLine } from '../../../src/cli/demoCommand.ts';

const before: Landed = {
  topics: { 'web.clickstream': 10_000, 'web.clickstream.dlq': 500, 'metrics.late': 20_000 },
  lake: { raw: 16 },
  warehouse: { 'silver.orders': 5_000 },
};
const after: Landed = {
  topics: {
    'web.clickstream': 22_766,
    'web.clickstream.dlq': 1_140,
    'oltp.orders.dlq': 12,
    'metrics.late': 46_308,
  },
  lake: { raw: 40, quarantine: 3 },
  warehouse: { 'silver.orders': 5_900 },
};

test('the summary puts this run next to all time for each topic, lake zone and table', () => {
  const lines = formatLanded(before, after, 'sluice-lake');
  assert.match(lines[0], /this run, and all time .*earlier runs included/);
  assert.match(lines[1], /this run\s+all time/);
  const row = (name: string) => lines.find((l) => l.includes(name)) ?? '';
  assert.match(row('kafka web.clickstream '), /kafka web\.clickstream\s+12,766\s+22,766$/);
  assert.match(row('kafka oltp.orders.dlq'), /\s12\s+12$/, 'a topic new in this run counts from 0');
  assert.match(row('kafka metrics.late'), /26,308\s+46,308$/);
  assert.match(row('s3://sluice-lake/raw/'), /24\s+40\s+objects$/);
  assert.match(row('s3://sluice-lake/quarantine/'), /3\s+3\s+objects$/);
  assert.match(row('warehouse silver.orders'), /900\s+5,900\s+rows$/);
});

test('the run facts state the measured click rate when it fell short, and what the late count means', () => {
  const facts = { elapsedMs: 91_200, clicksPerSecondAsked: 200, clicks: { total: 12_766, elapsedMs: 90_000 } };
  const lines = formatRunFacts({ ...facts, shopChanges: 1_803 }, before, after).join('\n');
  assert.match(lines, /ran\s+91 s\n/);
  assert.match(lines, /clicks sent\s+12,766 in 90 s = 142\/s \(asked for 200\/s: the generator fell behind/);
  assert.match(lines, /shop changes\s+1,803/);
  assert.match(lines, /dead letters\s+652 bad records/, 'this run only: 640 clicks + 12 orders');
  assert.match(
    lines,
    /late\s+26,308 window inputs in metrics\.late: inputs that arrived after their window had closed/,
  );
  assert.match(lines, /one record feeds several windows .*late can exceed the clicks/is);
  const onRate = formatRunFacts({ ...facts, clicks: { total: 17_950, elapsedMs: 90_000 } }, before, after);
  assert.match(onRate.join('\n'), /clicks sent\s+17,950 in 90 s = 199\/s\n/, 'no excuse when the rate was met');
  const stopped = formatRunFacts({ ...facts, clicks: undefined, stoppedBy: 'SIGINT' }, before, after).join('\n');
  assert.match(stopped, /ran\s+91 s \(stopped early by SIGINT\)/);
  assert.match(stopped, /clicks sent\s+unknown: the clickstream generator failed/);
});

test('the progress line counts this run only, and the closing lines say how to stop the stack', () => {
  assert.match(flowLine(before.topics, after.topics), /^… this run: in 12,766 clicks, .*dlq 652 │/);
  const closing = closingLines('/tmp/s/logs/demo.log').join('\n');
  assert.match(closing, /logs\s+\/tmp\/s\/logs\/demo\.log/);
  assert.match(closing, /`npx sluice dev down` stops it/);
  assert.doesNotMatch(closingLines(undefined).join('\n'), /logs/);
});

test('with the logs in a file, only fatal lines and errors of the demo or the runner reach the terminal', () => {
  const line = (o: object) => JSON.stringify({ time: 1, service: 'sluice', ...o });
  assert.equal(errorLine(line({ level: 30, component: 'runner', msg: 'topology running' })), undefined);
  assert.equal(errorLine(line({ level: 50, component: 'kafka', msg: 'Connection error' })), undefined);
  assert.equal(
    errorLine(line({ level: 50, component: 'demo', msg: 'generator failed', err: 'boom' })),
    'error (demo): generator failed: boom',
  );
  assert.equal(errorLine(line({ level: 60, component: 'sink_s3', msg: 'gave up' })), 'fatal (sink_s3): gave up');
  assert.equal(errorLine('not json'), undefined);
});
