import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/config.ts';

const DIR = path.join(PROJECT_ROOT, 'bench', 'kstreams');
const JAR = path.join(DIR, 'target', 'kstreams-peer-1.0.jar');

/**
 * Builds the Kafka Streams peer (bench/kstreams, Maven) if it is not built yet. False, with the
 * reason on stderr, when Java or Maven is missing: the bench then reports the peer as not run.
 */
export function buildKafkaStreamsPeer(): boolean {
  if (existsSync(JAR)) return true;
  const res = spawnSync('mvn', ['-q', '-B', 'package', '-DskipTests'], { cwd: DIR, stdio: 'inherit' });
  if (res.status !== 0) process.stderr.write('Kafka Streams peer not built (are Java 17 and Maven installed?)\n');
  return res.status === 0;
}

/**
 * The command that runs the peer (ClickFilter: one stream thread, at-least-once, commit every
 * second like Sluice) on `input`, as application (and consumer group) `appId`.
 */
export function kafkaStreamsCommand(opts: {
  brokers: string;
  input: string;
  output: string;
  appId: string;
  maxMessageBytes: number;
}): { command: string; args: string[] } {
  const state = mkdtempSync(path.join(tmpdir(), 'sluice-kstreams-'));
  return {
    command: 'java',
    args: [
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      `${JAR}${path.delimiter}${path.join(DIR, 'target', 'lib', '*')}`,
      'sluice.bench.ClickFilter',
      opts.brokers,
      opts.input,
      opts.output,
      opts.appId,
      path.join(PROJECT_ROOT, 'schemas', 'web.clickstream.avsc'),
      state,
      String(opts.maxMessageBytes),
    ],
  };
}
