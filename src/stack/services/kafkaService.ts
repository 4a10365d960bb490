import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/config.ts';
import { createKafkaClient } from '../../kafka/createKafkaClient.ts';
import { javaBinary, kafkaClasspath } from '../artifacts.ts';
import { run, spawnDaemon } from '../processes.ts';
import type { StackService } from '../service.ts';

// A KRaft cluster id is 16 random bytes in URL-safe base64 (what `kafka-storage random-uuid` prints).
function clusterId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}

/**
 * The storage format command's arguments. The cluster id is attached to its flag: a base64url id
 * starts with `-` one time in 64, and `-t <id>` then reads the id as an option and fails.
 */
export function storageFormatArgs(id: string, props: string): string[] {
  return ['format', `--cluster-id=${id}`, `--config=${props}`];
}

function brokerPort(cfg: Config): number {
  return Number(cfg.kafkaBrokers.split(',')[0].split(':').at(-1));
}

// Single node KRaft. The internal topics must have replication 1 or consumer groups and
// transactions never become available on one broker.
function serverProperties(cfg: Config, dataDir: string): string {
  const port = brokerPort(cfg);
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${cfg.kafkaControllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cfg.kafkaControllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=5',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.partitions=3',
    `log.dirs=${dataDir}`,
    'log.retention.hours=168',
    'log.cleaner.min.compaction.lag.ms=0',
    'log.cleaner.backoff.ms=5000',
    'message.max.bytes=16777216',
    'replica.fetch.max.bytes=16777216',
    '',
  ].join('\n');
}

const LOG4J2 = `rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka
logger.kafka.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = warn
`;

export const kafkaService: StackService = {
  name: 'kafka',
  port: brokerPort,
  startTimeoutMs: 90_000,
  async start(cfg, paths) {
    const java = javaBinary();
    const lib = kafkaClasspath(cfg.cacheDir);
    const dataDir = path.join(paths.dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const props = path.join(paths.dir, 'server.properties');
    writeFileSync(props, serverProperties(cfg, dataDir));
    writeFileSync(path.join(paths.dir, 'log4j2.properties'), LOG4J2);
    const cp = `${lib}/*`;
    if (!existsSync(path.join(dataDir, 'meta.properties'))) {
      run(java, ['-cp', cp, 'kafka.tools.StorageTool', ...storageFormatArgs(clusterId(), props)], {
        what: 'formatting the Kafka log directory',
      });
    }
    return spawnDaemon(
      java,
      [
        '-Xms128m',
        // Every test run leaves its topics behind (unique names); a long-lived dev stack reaches
        // tens of thousands of partitions, and 512 MiB of heap then runs out (seen: OOM at ~16k).
        '-Xmx1g',
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${path.join(paths.dir, 'log4j2.properties')}`,
        '-cp',
        cp,
        'kafka.Kafka',
        props,
      ],
      { logFile: paths.logFile, pidFile: paths.pidFile, cwd: paths.dir },
    );
  },
  async healthy(cfg) {
    const admin = createKafkaClient(cfg, 'sluice-health', { retries: 0, quiet: true }).admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return true;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  },
};
