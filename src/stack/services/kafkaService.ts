import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/config.ts';
import { SECURE_STACK_USER } from '../../config/stackFiles.ts';
import { SluiceError } from '../../core/errors.ts';
import { createKafkaClient } from '../../kafka/createKafkaClient.ts';
import { javaBinary, kafkaClasspath } from '../artifacts.ts';
import { run, spawnDaemon } from '../processes.ts';
import { ensureStackSecret } from '../secrets.ts';
import { ensureStackTls } from '../stackTls.ts';
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

/** The SCRAM user the broker itself authenticates as on its SASL_SSL listener. */
const BROKER_USER = 'broker';

/**
 * A secured stack's client listener: SASL_SSL with SCRAM-SHA-512, the certificate of the stack's
 * CA (see stackTls). The controller listener stays plaintext on 127.0.0.1: only the broker
 * itself talks to it.
 */
function secureListener(port: number, stackDir: string): string[] {
  const tls = ensureStackTls(stackDir);
  const storePassword = readFileSync(tls.storePasswordFile, 'utf8').trim();
  const brokerPassword = ensureStackSecret(stackDir, 'kafka-admin-password');
  return [
    `listeners=SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:{controller}`,
    `advertised.listeners=SASL_SSL://127.0.0.1:${port}`,
    'inter.broker.listener.name=SASL_SSL',
    'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${BROKER_USER}" password="${brokerPassword}";`,
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${tls.serverP12}`,
    `ssl.keystore.password=${storePassword}`,
    `ssl.key.password=${storePassword}`,
    'ssl.truststore.type=PKCS12',
    `ssl.truststore.location=${tls.serverP12}`,
    `ssl.truststore.password=${storePassword}`,
  ];
}

/** The SCRAM users a secured stack's storage is formatted with (KRaft stores them in its metadata log). */
function scramUsers(stackDir: string): string[] {
  const users = [
    [BROKER_USER, ensureStackSecret(stackDir, 'kafka-admin-password')],
    [SECURE_STACK_USER, ensureStackSecret(stackDir, 'kafka-password')],
  ];
  return users.flatMap(([name, password]) => ['--add-scram', `SCRAM-SHA-512=[name=${name},password=${password}]`]);
}

/** Per partition: what the local stack keeps of a topic before deleting its oldest segments. */
export const LOCAL_RETENTION_BYTES = 1024 * 1024 * 1024;

// Single node KRaft. The internal topics must have replication 1 or consumer groups and
// transactions never become available on one broker.
function serverProperties(cfg: Config, dataDir: string): string {
  const port = brokerPort(cfg);
  const listeners = cfg.stackSecure
    ? secureListener(port, cfg.stackDir).map((l) => l.replace('{controller}', String(cfg.kafkaControllerPort)))
    : [
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cfg.kafkaControllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      ];
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${cfg.kafkaControllerPort}`,
    ...listeners,
    'controller.listener.names=CONTROLLER',
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
    // Records are kept by size, not by age. Record timestamps are event times, and backfills,
    // replays and the tests write historical ones: age-based retention (Kafka's 7 days) deletes
    // such a segment at the next retention check (every 5 min), under a reader mid-topic.
    'log.retention.ms=-1',
    `log.retention.bytes=${LOCAL_RETENTION_BYTES}`,
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
    writeFileSync(props, serverProperties(cfg, dataDir), { mode: 0o600 }); // holds passwords when secured
    writeFileSync(path.join(paths.dir, 'log4j2.properties'), LOG4J2);
    const cp = `${lib}/*`;
    const secureMark = path.join(dataDir, 'sluice-secure');
    if (!existsSync(path.join(dataDir, 'meta.properties'))) {
      const users = cfg.stackSecure ? scramUsers(cfg.stackDir) : [];
      // The SCRAM passwords go to the tool on its command line: a short-lived local process.
      run(java, ['-cp', cp, 'kafka.tools.StorageTool', ...storageFormatArgs(clusterId(), props), ...users], {
        what: 'formatting the Kafka log directory',
        code: 'STACK_START_FAILED',
        secretArgs: users.length > 0,
      });
      if (cfg.stackSecure) writeFileSync(secureMark, 'formatted with SCRAM users\n');
    } else if (cfg.stackSecure && !existsSync(secureMark)) {
      const message = `the Kafka data in ${dataDir} was created without --secure and has no SCRAM users`;
      throw new SluiceError(
        'STACK_START_FAILED',
        `${message}: \`sluice dev down\`, remove ${paths.dir}, then \`dev up --secure\``,
      );
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
