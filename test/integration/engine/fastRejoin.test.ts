import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../../src/config/config.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { readAll } from '../../support/kafkaHelpers.ts';
import { customersSource } from '../../support/customersSource.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * Fast rejoin: a SIGKILLed runner sends no LeaveGroup, so the group coordinator waits for its
 * session to time out before it hands the partitions to anyone, including the restarted runner.
 * The session is SLUICE_KAFKA_SESSION_TIMEOUT_MS (6 s, the broker's minimum) instead of kafkajs'
 * 30 s. This test kills a runner mid-stream several times, restarts it at once, and measures
 * kill → the first input committed again (time-to-resume). The figures are printed, never
 * asserted: the assertions are that it resumes every time and loses nothing.
 */

const KILLS = 5;
const BURST = 20_000;

function startChild(prefix: string, groupId: string): Promise<{ child: ChildProcess; readyAt: number }> {
  const child = spawn(
    process.execPath,
    [path.join(PROJECT_ROOT, 'test/support/runTopologyChild.ts'), 'customers', prefix, groupId],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`runner child exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve({ child, readyAt: Date.now() });
    });
  });
}

async function killHard(child: ChildProcess): Promise<number> {
  child.removeAllListeners('exit');
  const exited = once(child, 'exit');
  const at = Date.now();
  child.kill('SIGKILL');
  await exited;
  return at;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

test('a SIGKILLed runner restarted at once resumes within about a session timeout and loses nothing', async (t) => {
  const cfg = await realStack();
  const prefix = uniqueName('it');
  const source = `${prefix}.oltp.customers`;
  const groupId = uniqueName('it-rejoin');
  const { kafka, row, encode } = await customersSource(cfg, source, { clientId: 'it-rejoin' });
  const admin = kafka.admin();
  await admin.connect();
  const committed = async () =>
    (await admin.fetchOffsets({ groupId, topics: [source] }))[0].partitions.reduce(
      (n, p) => n + Math.max(0, Number(p.offset)),
      0,
    );

  // A steady stream (about 400 records/s) for the whole test, so every kill is mid-stream and
  // there is always new input for the restarted runner to take up.
  const producer = kafka.producer();
  await producer.connect();
  let produced = 0;
  let producing = true;
  const sendRows = async (n: number) => {
    const messages = [];
    // Every 10th row breaks a rule, so both outputs (silver and the DLQ) are exercised.
    for (let i = 0; i < n; i++, produced++)
      messages.push({
        key: String(produced),
        value: encode(row(produced, produced % 10 === 0 ? { email: null } : {})),
      });
    await producer.send({ topic: source, acks: -1, messages });
  };
  const stream = (async () => {
    while (producing) {
      await sendRows(20);
      await new Promise((r) => setTimeout(r, 50)); // pacing of the stream, not a wait for a condition
    }
  })();

  const resumeMs: number[] = [];
  const rejoinMs: number[] = [];
  let runner = await startChild(prefix, groupId);
  try {
    for (let kill = 1; kill <= KILLS; kill++) {
      // A burst on top of the steady stream leaves the runner a backlog: the kill lands while it
      // works through it (the steady stream alone can be fully caught up at any instant).
      const before = await committed();
      await sendRows(BURST);
      // Killed as soon as it makes progress: most of the burst is still to do, however fast it runs.
      await eventually(async () => (await committed()) > before, 'the runner is working through the burst', 60_000);
      const killedAt = await killHard(runner.child);
      // Read after the exit: a commit the dead process had in flight has landed by now.
      const atKill = await committed();
      assert.ok(atKill < produced, `the kill happened mid-stream (${atKill} of ${produced} committed)`);
      runner = await startChild(prefix, groupId);
      await eventually(async () => (await committed()) > atKill, 'the restarted runner commits new progress', 90_000);
      resumeMs.push(Date.now() - killedAt);
      rejoinMs.push(runner.readyAt - killedAt);
      t.diagnostic(
        `kill ${kill}: partitions back after ${(rejoinMs.at(-1)! / 1000).toFixed(1)} s, first input committed again after ${(resumeMs.at(-1)! / 1000).toFixed(1)} s`,
      );
    }
    producing = false;
    await stream;
    await eventually(
      async () => (await committed()) === produced,
      'every input committed after the last restart',
      120_000,
    );
  } finally {
    producing = false;
    await stream.catch(() => {});
    runner.child.removeAllListeners('exit');
    if (runner.child.exitCode === null && runner.child.signalCode === null) {
      runner.child.kill('SIGTERM');
      await once(runner.child, 'exit');
    }
    await producer.disconnect();
    await admin.disconnect();
  }
  t.diagnostic(
    `time-to-resume over ${KILLS} kills: median ${(median(resumeMs) / 1000).toFixed(1)} s, range ${(Math.min(...resumeMs) / 1000).toFixed(1)}–${(Math.max(...resumeMs) / 1000).toFixed(1)} s (session timeout ${cfg.kafkaSessionTimeoutMs} ms)`,
  );

  // Nothing lost across five hard kills: every input is in silver or the DLQ.
  const out = new Set(
    [...(await readAll(cfg, `${prefix}.silver.customers`, kafka)), ...(await readAll(cfg, `${source}.dlq`, kafka))].map(
      (r) => r.key,
    ),
  );
  const lost = [];
  for (let i = 0; i < produced; i++) if (!out.has(String(i))) lost.push(i);
  assert.deepEqual(lost, [], `${lost.length} of ${produced} inputs lost`);
  assert.equal(resumeMs.length, KILLS);
});

test('a gracefully stopped runner leaves its group at once (LeaveGroup), so its successor waits for no session timeout', async (t) => {
  const cfg = await realStack();
  const prefix = uniqueName('it');
  const source = `${prefix}.oltp.customers`;
  const groupId = uniqueName('it-leave');
  const { kafka, row, encode } = await customersSource(cfg, source, { clientId: 'it-leave' });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  const send = (from: number, n: number) =>
    producer.send({
      topic: source,
      acks: -1,
      messages: Array.from({ length: n }, (_, i) => ({ key: String(from + i), value: encode(row(from + i)) })),
    });
  const committed = async () =>
    (await admin.fetchOffsets({ groupId, topics: [source] }))[0].partitions.reduce(
      (n, p) => n + Math.max(0, Number(p.offset)),
      0,
    );
  const members = async () => (await admin.describeGroups([groupId])).groups[0].members.length;
  try {
    await send(0, 1000);
    const first = await startChild(prefix, groupId);
    await eventually(async () => (await committed()) === 1000, 'the first runner commits its input', 60_000);
    assert.equal(await members(), 1);
    first.child.removeAllListeners('exit');
    const stoppedAt = Date.now();
    first.child.kill('SIGTERM');
    const [code] = await once(first.child, 'exit');
    assert.equal(code, 0);
    // Checked straight after the exit: a member that left needs no session timeout to be gone.
    assert.equal(await members(), 0, 'the stopped runner is no longer a member of its group');
    await send(1000, 1000);
    const second = await startChild(prefix, groupId);
    try {
      await eventually(async () => (await committed()) === 2000, 'the successor commits the new input', 60_000);
      t.diagnostic(
        `graceful stop → successor's first commit: ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s (includes the successor's own start-up)`,
      );
    } finally {
      second.child.removeAllListeners('exit');
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
});

test('a batch that takes longer than the short session keeps its member: no eviction, no re-delivery', async () => {
  const cfg = await realStack();
  const kafka = createKafkaClient(cfg, 'it-keepalive');
  const topic = uniqueName('it_keepalive');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v' }] });
  const groupId = uniqueName('it-keepalive');
  const consumer = kafka.consumer({ groupId });
  let joins = 0;
  let deliveries = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joins++;
  });
  let processed: () => void = () => {};
  const done = new Promise<void>((r) => {
    processed = r;
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        deliveries += batch.messages.length;
        // The work of this batch outlasts the session (a window restore, a registry outage):
        // 1.5 session timeouts, in which kafkajs itself would send no heartbeat.
        await new Promise((r) => setTimeout(r, cfg.kafkaSessionTimeoutMs * 1.5));
        processed();
      },
    });
    await done;
    // The member is still the one that joined; an evicted one would rejoin and get the record again.
    await eventually(
      async () => (await admin.describeGroups([groupId])).groups[0].state === 'Stable',
      'the group is stable',
      30_000,
    );
    assert.equal(joins, 1, 'joined once, never evicted');
    assert.equal(deliveries, 1, 'the record was delivered once');
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  }
});
