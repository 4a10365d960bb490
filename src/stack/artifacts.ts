import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/config.ts';
import { fetchOnce } from './fetchOnce.ts';
import { requireProgram, run } from './processes.ts';

/**
 * The Java services of the local stack come from Maven Central and are fetched once into the
 * cache directory (outside git). Later `dev up`s reuse the cache without touching the network.
 */

export const KAFKA_VERSION = '4.1.1';
/** 3.0.x is the last Apicurio line that runs on Java 17; 3.1+ needs Java 21. */
export const APICURIO_VERSION = '3.0.9';
export const S3PROXY_VERSION = '4.1.0';

function fetchInto(dir: string, fetch: (tmp: string) => void): string {
  if (existsSync(dir)) return dir;
  requireProgram('mvn', 'Maven (apt-get install -y maven)');
  return fetchOnce(dir, fetch);
}

/** Directory holding Kafka's runtime classpath (`<dir>/*`). */
export function kafkaClasspath(cacheDir: string): string {
  const dir = path.join(cacheDir, `kafka-${KAFKA_VERSION}`);
  fetchInto(dir, (tmp) =>
    run(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        path.join(PROJECT_ROOT, 'stack', 'kafka', 'pom.xml'),
        'dependency:copy-dependencies',
        `-DoutputDirectory=${tmp}`,
        '-DincludeScope=runtime',
      ],
      { what: 'fetching Kafka from Maven Central' },
    ),
  );
  return dir;
}

/** The unpacked Apicurio Registry application directory; returns the runner jar. */
export function apicurioJar(cacheDir: string): string {
  const dir = path.join(cacheDir, `apicurio-${APICURIO_VERSION}`);
  fetchInto(dir, (tmp) => {
    run(
      'mvn',
      [
        '-q',
        '-B',
        'dependency:unpack',
        `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`,
        `-DoutputDirectory=${tmp}`,
      ],
      { what: 'fetching Apicurio Registry from Maven Central', cwd: tmp },
    );
  });
  const jar = readdirSync(dir).find((f) => f.endsWith('-runner.jar'));
  if (!jar) throw new Error(`no *-runner.jar in ${dir}; delete it and rerun`);
  return path.join(dir, jar);
}

export function s3proxyJar(cacheDir: string): string {
  const dir = path.join(cacheDir, `s3proxy-${S3PROXY_VERSION}`);
  fetchInto(dir, (tmp) =>
    run(
      'mvn',
      [
        '-q',
        '-B',
        'dependency:copy',
        `-Dartifact=org.gaul:s3proxy:${S3PROXY_VERSION}:jar:jar-with-dependencies`,
        `-DoutputDirectory=${tmp}`,
      ],
      { what: 'fetching S3Proxy from Maven Central', cwd: tmp },
    ),
  );
  return path.join(dir, `s3proxy-${S3PROXY_VERSION}-jar-with-dependencies.jar`);
}

export function javaBinary(): string {
  const candidate = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  requireProgram(candidate, 'a Java 17+ runtime (apt-get install -y openjdk-17-jre-headless)');
  return candidate;
}
