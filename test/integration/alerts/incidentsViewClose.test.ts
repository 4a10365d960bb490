import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIncidentsView } from '../../../src/alerts/incidentsView.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/** The handles that keep a process alive after its work: sockets and timers. */
function openHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap');
}

/**
 * Regression (CI hang): a feed closed while its incidents view was still connecting its
 * consumer — every short-lived feed, e.g. the feed-token test's — left that consumer joining and
 * then running, so the process never exited and the test run waited for it forever.
 */
test('an incidents view closed while it connects leaves no consumer, socket or timer behind', async () => {
  const cfg = await realStack();
  const topic = `${uniqueName('it-view')}.incidents`;
  const kafka = createKafkaClient(cfg, 'it-view');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
  await admin.disconnect();
  const before = openHandles();
  for (const delayMs of [0, 50, 200, 500]) {
    const view = createIncidentsView(kafka, topic);
    await new Promise((r) => setTimeout(r, delayMs));
    await view.close();
  }
  // Whatever was connecting has been stopped: the handles go back to what they were.
  await eventually(
    async () => openHandles().length <= before.length,
    `handles back to ${before.length} (now ${openHandles().join(', ')})`,
    15_000,
  );
  assert.ok(openHandles().length <= before.length);
});
