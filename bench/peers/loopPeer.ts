/**
 * A bare consume → filter → produce (acks=all) → commit loop with one Kafka client, the peer a
 * hand-rolled Node service would be (see clickFilter.ts for the per-record work). Prints
 * "running" once connected; runs until SIGTERM.
 *
 *   node bench/peers/loopPeer.ts <kafkajs|platformatic> <brokers> <input> <output> <groupId> \
 *     <schemaFile> <maxMessageBytes>
 */
import { Consumer, Producer } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { clickFilter } from './clickFilter.ts';

const [client, brokers, input, output, groupId, schemaFile, maxBytes] = process.argv.slice(2);
const filter = clickFilter(schemaFile, Number(maxBytes));
const bootstrap = brokers.split(',');

async function kafkajsLoop() {
  const kafka = new Kafka({ clientId: 'bench-loop', brokers: bootstrap, logLevel: logLevel.ERROR });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 1024 * 1024 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const messages = [];
      for (const m of batch.messages) {
        const value = filter(m.value);
        if (value) messages.push({ key: m.key, value });
      }
      if (messages.length) await producer.send({ topic: output, acks: -1, messages });
      await consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(BigInt(batch.lastOffset()) + 1n) },
      ]);
    },
  });
  return () => Promise.all([consumer.disconnect(), producer.disconnect()]);
}

async function platformaticLoop() {
  const producer = new Producer({ clientId: 'bench-loop', bootstrapBrokers: bootstrap, acks: -1 });
  const consumer = new Consumer({ clientId: 'bench-loop', groupId, bootstrapBrokers: bootstrap });
  const stream = await consumer.consume({
    topics: [input],
    autocommit: false,
    mode: 'committed',
    fallbackMode: 'earliest',
    maxBytesPerPartition: 1024 * 1024,
  });
  // Batches as they come: whatever the stream holds when the previous send is done.
  (async () => {
    let batch: { topic: string; key: Buffer; value: Buffer }[] = [];
    const last = new Map<string, { topic: string; partition: number; offset: bigint; leaderEpoch: number }>();
    for await (const m of stream) {
      const value = filter(m.value);
      if (value) batch.push({ topic: output, key: m.key, value });
      last.set(`${m.topic}/${m.partition}`, {
        topic: m.topic,
        partition: m.partition,
        offset: m.offset + 1n,
        leaderEpoch: m.leaderEpoch,
      });
      if (stream.readableLength > 0 && batch.length < 2000) continue;
      if (batch.length) await producer.send({ messages: batch, acks: -1 });
      await consumer.commit({ offsets: [...last.values()] });
      batch = [];
      last.clear();
    }
  })().catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
  return () => Promise.all([consumer.close(true), producer.close()]);
}

const stop = client === 'platformatic' ? await platformaticLoop() : await kafkajsLoop();
process.stdout.write('running\n');
process.once('SIGTERM', () => {
  stop().finally(() => process.exit(0));
});
