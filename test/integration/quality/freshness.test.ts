import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import client from 'prom-client';
import { type Config, pgConnection } from '../../../src/config/config.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { startFreshnessSchedule } from '../../../src/quality/freshnessSchedule.ts';
import { parseFreshnessSlas } from '../../../src/quality/freshnessSlas.ts';
import { type FreshnessResult, measureFreshness } from '../../../src/quality/measureFreshness.ts';
import { type CliRun, runSluice } from '../../support/cli.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * Freshness SLAs on the real stack: topics whose newest record timestamp is old, warn-aged or
 * fresh (measured with both Kafka clients), empty and missing topics, a warehouse table whose
 * newest `_loaded_at` is old and then fresh, `sluice freshness` exit codes, and the gauges.
 */

const MIN = 60_000;

let cfg: Config;
let kafka: KafkaClient;
let db: pg.Client;
const topic = {
  old: uniqueName('it_fresh_old'),
  warn: uniqueName('it_fresh_warn'),
  fresh: uniqueName('it_fresh_fresh'),
  empty: uniqueName('it_fresh_empty'),
  missing: uniqueName('it_fresh_missing'),
};
const schema = uniqueName('it_fresh');

/** Records on several keys (so on several partitions) stamped `agoMs` before now. */
async function produceAged(name: string, agoMs: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const timestamp = String(Date.now() - agoMs);
    const messages = ['a', 'b', 'c', 'd', 'e', 'f'].map((key) => ({ key, value: `v-${key}`, timestamp }));
    await producer.send({ topic: name, messages, acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

const sla = (entries: string) => parseFreshnessSlas(entries);
const bySubject = (results: FreshnessResult[]) => new Map(results.map((r) => [r.subject, r]));

before(async () => {
  cfg = await realStack();
  kafka = createKafkaClient(cfg, 'it-freshness');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const names = [topic.old, topic.warn, topic.fresh, topic.empty];
    await admin.createTopics({ topics: names.map((t) => ({ topic: t, numPartitions: 3 })), waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  await produceAged(topic.old, 3 * 60 * MIN);
  await produceAged(topic.old, 2 * 60 * MIN); // the newest of the old topic: 2 h
  await produceAged(topic.warn, 20 * MIN);
  await produceAged(topic.fresh, 2 * 60 * MIN); // old until the fresh record arrives
  db = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await db.connect();
  await db.query(`create schema "${schema}"`);
  await db.query(`create table "${schema}".loads (id int, _loaded_at timestamptz not null)`);
  await db.query(`create table "${schema}".nothing (id int, _loaded_at timestamptz not null)`);
  await db.query(
    `insert into "${schema}".loads values (1, now() - interval '3 hours'), (2, now() - interval '2 hours')`,
  );
});

after(async () => {
  await db?.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
  await db?.end();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic.old, topic.warn, topic.fresh, topic.empty] }).catch(() => {});
  await admin.disconnect();
});

test('topics: old records breach, 20 min old warns, empty and missing breach; a fresh record makes it fresh — on both clients', async () => {
  const slas = sla(
    [topic.old, topic.warn, topic.fresh, topic.empty, topic.missing].map((t) => `${t}=15m/30m`).join(','),
  );
  for (const kafkaClient of ['kafkajs', 'platformatic'] as const) {
    const r = bySubject(await measureFreshness({ ...cfg, kafkaClient }, slas));
    const old = r.get(topic.old);
    assert.equal(old?.state, 'breach', kafkaClient);
    assert.ok(
      old?.ageSeconds && Math.abs(old.ageSeconds - 7200) < 120,
      `${kafkaClient}: newest is 2 h old, ${old?.ageSeconds}`,
    );
    assert.equal(old?.source, 'record timestamp');
    const warn = r.get(topic.warn);
    assert.equal(warn?.state, 'warn', kafkaClient);
    assert.ok(warn?.ageSeconds && Math.abs(warn.ageSeconds - 1200) < 120, `${kafkaClient}: ${warn?.ageSeconds}`);
    assert.equal(r.get(topic.fresh)?.state, 'breach', kafkaClient);
    assert.deepEqual(
      [r.get(topic.empty)?.state, r.get(topic.empty)?.problem, r.get(topic.empty)?.ageSeconds],
      ['breach', 'empty', null],
      kafkaClient,
    );
    assert.deepEqual([r.get(topic.missing)?.state, r.get(topic.missing)?.problem], ['breach', 'missing'], kafkaClient);
    assert.match(r.get(topic.missing)?.message ?? '', /does not exist/);
  }

  await produceAged(topic.fresh, 0);
  for (const kafkaClient of ['kafkajs', 'platformatic'] as const) {
    const fresh = bySubject(await measureFreshness({ ...cfg, kafkaClient }, slas)).get(topic.fresh);
    assert.equal(fresh?.state, 'fresh', kafkaClient);
    assert.ok(fresh?.ageSeconds !== null && fresh!.ageSeconds < 60, `${kafkaClient}: ${fresh?.ageSeconds}`);
  }
});

test('a warehouse table: an old newest _loaded_at breaches, an insert makes it fresh; empty and missing tables breach', async () => {
  const loads = `warehouse:${schema}.loads`;
  const slas = sla(
    [
      `${loads}._loaded_at=15m/30m`,
      `warehouse:${schema}.nothing._loaded_at=15m/30m`,
      `warehouse:${schema}.nope._loaded_at=1m/2m`,
    ].join(','),
  );
  let r = bySubject(await measureFreshness(cfg, slas));
  const old = r.get(loads);
  assert.equal(old?.state, 'breach');
  assert.equal(old?.source, 'max(_loaded_at)');
  assert.ok(old?.ageSeconds && Math.abs(old.ageSeconds - 7200) < 120, `${old?.ageSeconds}`);
  assert.deepEqual(
    [r.get(`warehouse:${schema}.nothing`)?.state, r.get(`warehouse:${schema}.nothing`)?.problem],
    ['breach', 'empty'],
  );
  assert.deepEqual(
    [r.get(`warehouse:${schema}.nope`)?.state, r.get(`warehouse:${schema}.nope`)?.problem],
    ['breach', 'missing'],
  );

  await db.query(`insert into "${schema}".loads values (3, now() - interval '20 minutes')`);
  r = bySubject(await measureFreshness(cfg, slas));
  assert.equal(r.get(loads)?.state, 'warn');
  await db.query(`insert into "${schema}".loads values (4, now())`);
  r = bySubject(await measureFreshness(cfg, slas));
  assert.equal(r.get(loads)?.state, 'fresh');
  assert.ok((r.get(loads)?.ageSeconds ?? 99) < 60);
});

function freshnessCli(slas: string): Promise<CliRun> {
  return runSluice(['freshness', '--json'], { SLUICE_FRESHNESS_SLAS: slas });
}

test('sluice freshness exits 1 when a subject is in breach and 0 when none is (warn included)', async () => {
  await produceAged(topic.fresh, 0); // fresh whatever order the tests ran in
  await db.query(`insert into "${schema}".loads values (5, now())`);
  const table = `warehouse:${schema}.loads._loaded_at=15m/30m`;

  const breach = await freshnessCli(`${topic.old}=15m/30m,${topic.fresh}=15m/30m,${table}`);
  assert.equal(breach.code, 1, breach.stderr);
  const report = JSON.parse(breach.stdout) as { ok: boolean; counts: unknown; subjects: FreshnessResult[] };
  assert.equal(report.ok, false);
  assert.deepEqual(report.counts, { fresh: 2, warn: 0, breach: 1 });
  assert.deepEqual(
    report.subjects.map((s) => [s.subject, s.state]),
    [
      [topic.old, 'breach'],
      [topic.fresh, 'fresh'],
      [`warehouse:${schema}.loads`, 'fresh'],
    ],
  );
  assert.match(breach.stderr, new RegExp(`SLUICE_ERR_FRESHNESS_BREACH: 1 of 3 subjects in breach: ${topic.old}`));

  const ok = await freshnessCli(`${topic.fresh}=15m/30m,${topic.warn}=15m/30m,${table}`);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual((JSON.parse(ok.stdout) as { counts: unknown }).counts, { fresh: 2, warn: 1, breach: 0 });
});

test('the schedule fills sluice_freshness_* gauges on the registry every interval and stops on stop()', async () => {
  const registry = new client.Registry();
  let measured = 0;
  const schedule = startFreshnessSchedule(cfg, registry, {
    intervalMs: 200,
    slas: sla(`${topic.old}=15m/30m,${topic.warn}=15m/30m,${topic.missing}=15m/30m`),
    onMeasured: () => {
      measured++;
    },
  });
  try {
    await eventually(async () => measured >= 2, 'two measurements', 60_000);
    const text = await registry.metrics();
    assert.match(text, new RegExp(`^sluice_freshness_state\\{subject="${topic.old}"\\} 2$`, 'm'));
    assert.match(text, new RegExp(`^sluice_freshness_state\\{subject="${topic.warn}"\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^sluice_freshness_state\\{subject="${topic.missing}"\\} 2$`, 'm'));
    const age = new RegExp(`^sluice_freshness_age_seconds\\{subject="${topic.old}"\\} ([\\d.]+)$`, 'm').exec(text);
    assert.ok(age && Math.abs(Number(age[1]) - 7200) < 180, age?.[0]);
    assert.doesNotMatch(text, new RegExp(`sluice_freshness_age_seconds\\{subject="${topic.missing}"\\}`));
  } finally {
    await schedule.stop();
  }
  const after = measured;
  // A negative check needs a span of time: five intervals without a measurement once stopped.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(measured, after, 'no measurement after stop()');
});

test('a measurement that fails (Kafka and Postgres unreachable) is a breach on the gauges, and the schedule goes on', async () => {
  const registry = new client.Registry();
  const down = { ...cfg, kafkaBrokers: '127.0.0.1:1', pgPort: 1 };
  const outcomes: FreshnessResult[][] = [];
  const schedule = startFreshnessSchedule(down, registry, {
    intervalMs: 100,
    slas: sla(`${topic.fresh}=15m/30m,warehouse:${schema}.loads._loaded_at=15m/30m`),
    onMeasured: (r) => {
      outcomes.push(r);
    },
  });
  try {
    await eventually(async () => outcomes.length >= 2, 'two failed measurements', 60_000);
  } finally {
    await schedule.stop();
  }
  for (const r of outcomes[0]) {
    assert.deepEqual([r.state, r.problem, r.ageSeconds], ['breach', 'failed', null], r.subject);
    assert.match(r.message ?? '', /^could not measure: /);
  }
  const text = await registry.metrics();
  assert.match(text, new RegExp(`^sluice_freshness_state\\{subject="${topic.fresh}"\\} 2$`, 'm'));
  assert.match(text, new RegExp(`^sluice_freshness_state\\{subject="warehouse:${schema}.loads"\\} 2$`, 'm'));
});
