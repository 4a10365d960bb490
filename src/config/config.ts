import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SluiceError } from '../core/errors.ts';
import { EXTRACT_SETTINGS } from './extractSettings.ts';
import { CDC_SETTINGS } from '../../connectors/postgres/cdc/cdcSettings.ts';
import { FRESHNESS_SETTINGS } from '../quality/freshnessSlas.ts';
import { PII_SETTINGS } from '../pii/piiSettings.ts';
import { LAKE_SETTINGS } from '../../connectors/s3/lakeSettings.ts';
import { FEED_SETTINGS } from '../feed/feedSettings.ts';
import { QUALITY_SETTINGS } from '../quality/qualityThresholds.ts';
import { ALERT_SETTINGS } from '../alerts/alertRules.ts';
import { MCP_SETTINGS } from '../mcp/mcpSettings.ts';
import { isSecureStack, secureStackDefaults, type StackSecret, stackSecretFile } from './stackFiles.ts';

export { type StackSecret, stackSecretFile } from './stackFiles.ts';
import { bool, port, positiveInt, type Setting } from './settingSchemas.ts';

/**
 * The one configuration surface: environment variables, optionally a YAML/JSON file named by
 * SLUICE_CONFIG_FILE (same keys as the variables; the environment wins). Everything is
 * validated before any I/O, and defaults point at the embedded local stack (`sluice dev up`).
 * Secrets come from a variable or from a `<NAME>_FILE` path, never from code; the local stack
 * writes its generated secrets to files under the stack directory and the defaults point there.
 */

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every setting, in the order the README's table shows them. */
export const SETTINGS = {
  stackDir: {
    env: 'SLUICE_STACK_DIR',
    description: 'Local stack data, logs, pid files and generated secrets',
    default: path.join(PROJECT_ROOT, '.stack'),
    schema: z.string().min(1),
  },
  cacheDir: {
    env: 'SLUICE_CACHE_DIR',
    description: 'Cache of the Java artifacts fetched from Maven Central',
    default: path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'sluice'),
    schema: z.string().min(1),
  },
  stackSecure: {
    env: 'SLUICE_STACK_SECURE',
    description:
      'Local stack secured: Kafka on SASL_SSL (SCRAM-SHA-512), registry basic auth, Postgres TLS, and clients to ' +
      'match (default: on after `dev up --secure` for this stack directory)',
    default: 'false',
    schema: bool,
  },
  logLevel: {
    env: 'SLUICE_LOG_LEVEL',
    description: 'trace, debug, info, warn, error',
    default: 'info',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  },

  kafkaBrokers: {
    env: 'SLUICE_KAFKA_BROKERS',
    description: 'Comma-separated bootstrap brokers',
    default: '127.0.0.1:9092',
    schema: z.string().regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'host:port[,host:port...]'),
  },
  kafkaControllerPort: {
    env: 'SLUICE_KAFKA_CONTROLLER_PORT',
    description: 'Local stack only: KRaft controller port',
    default: '9093',
    schema: port,
  },
  kafkaClient: {
    env: 'SLUICE_KAFKA_CLIENT',
    description: 'Kafka client library: kafkajs, or platformatic (@platformatic/kafka; see the README)',
    default: 'kafkajs',
    schema: z.enum(['kafkajs', 'platformatic']),
  },
  kafkaClientId: {
    env: 'SLUICE_KAFKA_CLIENT_ID',
    description: 'Kafka client id prefix',
    default: 'sluice',
    schema: z.string().min(1),
  },
  kafkaSsl: { env: 'SLUICE_KAFKA_SSL', description: 'Use TLS to the brokers', default: 'false', schema: bool },
  kafkaSslCaFile: {
    env: 'SLUICE_KAFKA_SSL_CA_FILE',
    description: "PEM file of the CA that signed the brokers' certificates (empty: the system CAs)",
    default: '',
    schema: z.string(),
  },
  kafkaSaslMechanism: {
    env: 'SLUICE_KAFKA_SASL_MECHANISM',
    description: 'plain, scram-sha-256 or scram-sha-512 (empty: no SASL)',
    default: '',
    schema: z.enum(['', 'plain', 'scram-sha-256', 'scram-sha-512']),
  },
  kafkaSaslUsername: {
    env: 'SLUICE_KAFKA_SASL_USERNAME',
    description: 'SASL user name',
    default: '',
    schema: z.string(),
  },
  kafkaSaslPassword: {
    env: 'SLUICE_KAFKA_SASL_PASSWORD',
    description: 'SASL password (or SLUICE_KAFKA_SASL_PASSWORD_FILE)',
    default: '',
    secret: true,
    schema: z.string(),
  },
  topicPartitions: {
    env: 'SLUICE_TOPIC_PARTITIONS',
    description: 'Partitions of the topics Sluice creates',
    default: '3',
    schema: positiveInt,
  },
  topicReplication: {
    env: 'SLUICE_TOPIC_REPLICATION',
    description: 'Replication factor of the topics Sluice creates',
    default: '1',
    schema: positiveInt,
  },
  maxMessageBytes: {
    env: 'SLUICE_MAX_MESSAGE_BYTES',
    description: 'Largest record value accepted; larger ones go to the DLQ',
    default: String(1024 * 1024),
    schema: positiveInt,
  },
  kafkaSessionTimeoutMs: {
    env: 'SLUICE_KAFKA_SESSION_TIMEOUT_MS',
    description: 'Consumer group session timeout: how long a killed runner holds its partitions (broker minimum 6000)',
    default: '6000',
    schema: positiveInt,
  },
  processingGuarantee: {
    env: 'SLUICE_PROCESSING_GUARANTEE',
    description:
      'at_least_once, or exactly_once (Kafka transactions: outputs, DLQ, changelogs and offsets of a batch ' +
      'commit together)',
    default: 'at_least_once',
    schema: z.enum(['at_least_once', 'exactly_once']),
  },
  maxInFlightRecords: {
    env: 'SLUICE_MAX_IN_FLIGHT_RECORDS',
    description: 'Records of one partition fetched and not yet durable before its fetch waits for room',
    default: '2000',
    schema: positiveInt,
  },
  maxInFlightBytes: {
    env: 'SLUICE_MAX_IN_FLIGHT_BYTES',
    description: 'Bytes (keys and values as fetched) of one partition in flight before its fetch waits for room',
    default: String(4 * 1024 * 1024),
    schema: positiveInt,
  },
  sinkErrors: {
    env: 'SLUICE_SINK_ERRORS',
    description:
      'A record the S3 or warehouse sink can never take: dlq (to <source>.dlq, reason sink) or fail (stop the runner)',
    default: 'dlq',
    schema: z.enum(['dlq', 'fail']),
  },

  registryUrl: {
    env: 'SLUICE_REGISTRY_URL',
    description: 'Confluent-compatible schema registry base URL',
    default: 'http://127.0.0.1:8081/apis/ccompat/v7',
    schema: z.url(),
  },
  registryPort: {
    env: 'SLUICE_REGISTRY_PORT',
    description: 'Local stack only: registry HTTP port',
    default: '8081',
    schema: port,
  },
  registryUsername: {
    env: 'SLUICE_REGISTRY_USERNAME',
    description: 'Registry basic-auth user',
    default: '',
    schema: z.string(),
  },
  registryPassword: {
    env: 'SLUICE_REGISTRY_PASSWORD',
    description: 'Registry basic-auth password (or _FILE)',
    default: '',
    secret: true,
    schema: z.string(),
  },
  registryCompatibility: {
    env: 'SLUICE_REGISTRY_COMPATIBILITY',
    description: 'Compatibility level set on the subjects Sluice registers',
    default: 'BACKWARD',
    schema: z.enum([
      'NONE',
      'BACKWARD',
      'BACKWARD_TRANSITIVE',
      'FORWARD',
      'FORWARD_TRANSITIVE',
      'FULL',
      'FULL_TRANSITIVE',
    ]),
  },

  s3Endpoint: {
    env: 'SLUICE_S3_ENDPOINT',
    description: 'S3 endpoint (empty: AWS)',
    default: 'http://127.0.0.1:4566',
    schema: z.union([z.literal(''), z.url()]),
  },
  s3Region: { env: 'SLUICE_S3_REGION', description: 'S3 region', default: 'us-east-1', schema: z.string().min(1) },
  s3Bucket: {
    env: 'SLUICE_S3_BUCKET',
    description: 'Lake bucket',
    default: 'sluice-lake',
    schema: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a valid S3 bucket name'),
  },
  s3ForcePathStyle: {
    env: 'SLUICE_S3_FORCE_PATH_STYLE',
    description: 'Path-style addressing (S3Proxy, MinIO)',
    default: 'true',
    schema: bool,
  },
  s3AccessKeyId: {
    env: 'SLUICE_S3_ACCESS_KEY_ID',
    description: 'Static access key (empty: the AWS credential chain)',
    default: 'sluice',
    schema: z.string(),
  },
  s3SecretAccessKey: {
    env: 'SLUICE_S3_SECRET_ACCESS_KEY',
    description: 'Static secret key (or _FILE; the local stack writes one)',
    secret: true,
    schema: z.string(),
  },

  pgHost: {
    env: 'SLUICE_PG_HOST',
    description: 'Postgres host (OLTP source and warehouse)',
    default: '127.0.0.1',
    schema: z.string().min(1),
  },
  pgPort: { env: 'SLUICE_PG_PORT', description: 'Postgres port', default: '5432', schema: port },
  pgUser: { env: 'SLUICE_PG_USER', description: 'Postgres user', default: 'sluice', schema: z.string().min(1) },
  pgPassword: {
    env: 'SLUICE_PG_PASSWORD',
    description: 'Postgres password (or _FILE; the local stack writes one)',
    secret: true,
    schema: z.string(),
  },
  pgSslMode: {
    env: 'SLUICE_PG_SSLMODE',
    description: 'disable, require, verify-full',
    default: 'disable',
    schema: z.enum(['disable', 'require', 'verify-full']),
  },
  pgSslRootCert: {
    env: 'SLUICE_PG_SSL_ROOT_CERT',
    description: 'PEM file of the CA that signed the Postgres server certificate (empty: the system CAs)',
    default: '',
    schema: z.string(),
  },
  oltpDatabase: {
    env: 'SLUICE_OLTP_DATABASE',
    description: "The shop's source database",
    default: 'oltp',
    schema: z.string().min(1),
  },
  warehouseDatabase: {
    env: 'SLUICE_WAREHOUSE_DATABASE',
    description: 'The warehouse database',
    default: 'warehouse',
    schema: z.string().min(1),
  },

  ...EXTRACT_SETTINGS,
  ...CDC_SETTINGS,

  s3Port: { env: 'SLUICE_S3_PORT', description: 'Local stack only: S3Proxy port', default: '4566', schema: port },

  httpHost: {
    env: 'SLUICE_HTTP_HOST',
    description: 'Runner HTTP bind address',
    default: '127.0.0.1',
    schema: z.string().min(1),
  },
  httpPort: {
    env: 'SLUICE_HTTP_PORT',
    description: 'Runner HTTP port (dashboard, /ws, /metrics, /healthz, /readyz)',
    default: '8080',
    schema: port,
  },

  ...FEED_SETTINGS,
  ...PII_SETTINGS,
  ...FRESHNESS_SETTINGS,
  ...LAKE_SETTINGS,
  // Read by src/quality/warehouseTestSchedule.ts; declared here because that module imports this one.
  warehouseTestsIntervalMs: {
    env: 'SLUICE_WAREHOUSE_TESTS_INTERVAL_MS',
    description:
      'How often a `sluice run` that loads the warehouse runs the warehouse tests (`sluice check`) for its ' +
      'metrics (0: never)',
    default: '300000',
    emptyIsUnset: true,
    schema: z.coerce.number().int().min(0),
  },
  ...QUALITY_SETTINGS,
  ...ALERT_SETTINGS,
  ...MCP_SETTINGS,
} as const satisfies Record<string, Setting>;

type Settings = typeof SETTINGS;
export type Config = { [K in keyof Settings]: z.output<Settings[K]['schema']> };

export type Env = Record<string, string | undefined>;

function readFileConfig(file: string): Record<string, unknown> {
  if (!existsSync(file))
    throw new SluiceError('CONFIG_INVALID', `SLUICE_CONFIG_FILE points at ${file}, which does not exist`);
  const text = readFileSync(file, 'utf8');
  try {
    const parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || typeof parsed !== 'object') throw new Error('not a mapping');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new SluiceError('CONFIG_INVALID', `${file} is not a valid YAML/JSON mapping of SLUICE_* keys`, {
      cause: err,
    });
  }
}

function given(setting: Setting, value: unknown): unknown {
  return value === '' && setting.emptyIsUnset ? undefined : value;
}

/** Which settings default to a generated secret (Kafka SASL and registry passwords: on a secured stack). */
export const LOCAL_SECRETS: Partial<Record<keyof Settings, StackSecret>> = {
  pgPassword: 'pg-password',
  s3SecretAccessKey: 's3-secret',
  feedToken: 'feed-token',
  piiKey: 'pii-key',
};

/**
 * Reads and validates the configuration. Throws one SluiceError listing every problem, each
 * naming the variable to set.
 */
export function loadConfig(env: Env = process.env): Config {
  const fromFile = env.SLUICE_CONFIG_FILE ? readFileConfig(env.SLUICE_CONFIG_FILE) : {};
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  const stackDir =
    env.SLUICE_STACK_DIR ?? (fromFile.SLUICE_STACK_DIR as string | undefined) ?? SETTINGS.stackDir.default;

  const secureSetting = env.SLUICE_STACK_SECURE ?? (fromFile.SLUICE_STACK_SECURE as string | undefined);
  const secure = secureSetting === undefined ? isSecureStack(stackDir) : ['true', '1', 'yes'].includes(secureSetting);
  // A secured local stack: its client settings where nothing else sets them (its secret files may
  // not exist yet, before the `dev up` that generates them: empty until then).
  const stackDefaults: Record<string, string> = secure
    ? { SLUICE_STACK_SECURE: 'true', ...secureStackDefaults(stackDir) }
    : {};

  for (const [key, setting] of Object.entries(SETTINGS) as [keyof Settings, Setting][]) {
    let value: unknown =
      given(setting, env[setting.env]) ?? given(setting, fromFile[setting.env]) ?? stackDefaults[setting.env];
    const fileVar = `${setting.env}_FILE`;
    const secretFile = env[fileVar] ?? (fromFile[fileVar] as string | undefined);
    if (value === undefined && setting.secret && secretFile) {
      try {
        value = readFileSync(secretFile, 'utf8').trim();
      } catch {
        problems.push(`${fileVar}: cannot read ${secretFile}`);
        continue;
      }
    }
    const stackFile = stackDefaults[fileVar];
    if (value === undefined && setting.secret && stackFile)
      value = existsSync(stackFile) ? readFileSync(stackFile, 'utf8').trim() : '';
    if (value === undefined && setting.secret && setting.default === undefined) {
      // Local-stack defaults: the generated secret files, read lazily so `dev up` can create them first.
      const name = LOCAL_SECRETS[key];
      const local = name && stackSecretFile(stackDir, name);
      if (local && existsSync(local)) value = readFileSync(local, 'utf8').trim();
      else if (key !== 'feedToken') value = ''; // the feed's is generated when it starts (feedTokenOf)
    }
    if (value === undefined) value = setting.default;
    const parsed = setting.schema.safeParse(value);
    if (!parsed.success) {
      problems.push(`${setting.env}: ${parsed.error.issues.map((i) => i.message).join('; ')} (${setting.description})`);
      continue;
    }
    raw[key] = parsed.data;
  }
  const cfg = raw as Config;
  if (cfg.kafkaSaslMechanism && !cfg.kafkaSaslUsername)
    problems.push('SLUICE_KAFKA_SASL_USERNAME: required when SLUICE_KAFKA_SASL_MECHANISM is set');
  if (problems.length) {
    throw new SluiceError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  return cfg;
}

/** The log levels SLUICE_LOG_LEVEL accepts. */
export type LogLevel = z.output<typeof SETTINGS.logLevel.schema>;

/**
 * The log level setting (SLUICE_LOG_LEVEL from the environment, else from the config file),
 * validated like every setting. Loggers are created when their modules load, before any
 * `loadConfig`, so this reads the one setting alone; an unreadable config file is left to
 * `loadConfig` to report.
 *
 * @example createLogger('runner', logLevelSetting());
 */
export function logLevelSetting(env: Env = process.env): LogLevel {
  const setting = SETTINGS.logLevel;
  let value: unknown = env[setting.env];
  if (value === undefined && env.SLUICE_CONFIG_FILE) {
    try {
      value = readFileConfig(env.SLUICE_CONFIG_FILE)[setting.env];
    } catch {
      value = undefined;
    }
  }
  const parsed = setting.schema.safeParse(value ?? setting.default);
  if (!parsed.success) {
    const problem = `${setting.env}: ${parsed.error.issues.map((i) => i.message).join('; ')} (${setting.description})`;
    throw new SluiceError('CONFIG_INVALID', `invalid configuration:\n  ${problem}`, {
      details: { problems: [problem] },
    });
  }
  return parsed.data;
}

/** The effective configuration with every secret replaced, for `--print-config` and logs. */
export function redactedConfig(cfg: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof Settings, Setting][]) {
    const value = cfg[key];
    out[setting.env] = setting.secret ? (value ? '[redacted]' : '') : value;
  }
  return out;
}

/**
 * A secret's current value: the configured one, or, when it was empty at load time, the local
 * stack's generated file (which `dev up` may have written since): Postgres and S3 always, Kafka
 * SASL and registry passwords on a secured stack.
 */
export function secretOf(
  cfg: Config,
  key: 'pgPassword' | 's3SecretAccessKey' | 'kafkaSaslPassword' | 'registryPassword',
): string {
  if (cfg[key]) return cfg[key];
  const name: StackSecret | undefined =
    key === 'pgPassword'
      ? 'pg-password'
      : key === 's3SecretAccessKey'
        ? 's3-secret'
        : !cfg.stackSecure
          ? undefined
          : key === 'kafkaSaslPassword'
            ? 'kafka-password'
            : 'registry-password';
  const file = name && stackSecretFile(cfg.stackDir, name);
  return file && existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

export function pgConnection(cfg: Config, database: string): import('pg').ClientConfig {
  return {
    host: cfg.pgHost,
    port: cfg.pgPort,
    user: cfg.pgUser,
    password: secretOf(cfg, 'pgPassword'),
    database,
    ssl:
      cfg.pgSslMode === 'disable'
        ? false
        : {
            rejectUnauthorized: cfg.pgSslMode === 'verify-full',
            ...(cfg.pgSslRootCert ? { ca: readFileSync(cfg.pgSslRootCert, 'utf8') } : {}),
          },
  };
}
