/**
 * docker-compose.yml cannot be checked with `docker compose config` here (no Docker engine), so
 * this test parses it and checks its structure against the rest of the project: the ports the
 * configuration module defaults to, the SLUICE_* variable names it knows, the files the compose
 * file mounts, the Prometheus scrape target, and the Grafana provisioning and dashboard.
 *
 * Each check returns a list of problems; the positive tests expect none, and the negative tests
 * break a copy of the file on purpose to prove the checks can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { PROJECT_ROOT, SETTINGS } from '../../src/config/config.ts';

// ---------------------------------------------------------------------------------------------
// Types and small helpers

interface Service {
  image?: unknown;
  build?: unknown;
  command?: unknown;
  entrypoint?: unknown;
  ports?: unknown[];
  environment?: unknown;
  volumes?: unknown[];
  depends_on?: unknown;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown> | null;
}
interface KnownSetting {
  env: string;
  default?: string;
  secret?: boolean;
  schema: { safeParse(value: unknown): { success: boolean } };
}
interface Port {
  hostIp?: string;
  published: number;
  target: number;
}
interface Mount {
  source: string;
  target: string;
  bind: boolean;
}

const ROOT = PROJECT_ROOT;
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const KNOWN: KnownSetting[] = Object.values(SETTINGS) as KnownSetting[];
const BY_ENV = new Map(KNOWN.map((s) => [s.env, s]));

const REQUIRED_SERVICES = [
  'kafka',
  'schema-registry',
  'postgres',
  'minio',
  'minio-init',
  'kafka-ui',
  'prometheus',
  'grafana',
  'sluice',
];

const COUNTERS_AND_GAUGES = [
  'sluice_records_in_total',
  'sluice_records_out_total',
  'sluice_records_dlq_total',
  'sluice_rule_failures_total',
  'sluice_consumer_lag_records',
  'sluice_paused_partitions',
  'sluice_windows_open',
  'sluice_records_late_total',
  'sluice_connector_batches_total',
  'sluice_connector_rows_total',
  'sluice_connector_bytes_total',
  'sluice_connector_last_flush_timestamp_seconds',
  'sluice_connector_flush_seconds_total',
];
const HISTOGRAMS = [
  'sluice_processing_latency_seconds',
  'sluice_commit_latency_seconds',
  'sluice_window_emit_delay_seconds',
];

function loadYaml(file: string): unknown {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const issues = [...doc.errors, ...doc.warnings].map((e) => `${path.relative(ROOT, file)}: ${e.message}`);
  if (issues.length) throw new Error(issues.join('\n'));
  return doc.toJS();
}

function loadCompose(): Compose {
  return loadYaml(COMPOSE_FILE) as Compose;
}

const clone = <T>(v: T): T => structuredClone(v);
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A service's environment as a map, whether written as a mapping or as a `KEY=value` list. */
function envOf(svc: Service | undefined): Record<string, string> {
  const env = svc?.environment;
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      const s = String(item);
      const eq = s.indexOf('=');
      if (eq < 0) out[s] = '';
      else out[s.slice(0, eq)] = s.slice(eq + 1);
    }
  } else if (isRecord(env)) {
    for (const [k, v] of Object.entries(env)) out[k] = v === null || v === undefined ? '' : String(v);
  }
  return out;
}

const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g;

/** Compose interpolation with no variable set: defaults apply, required ones get a placeholder. */
function interpolate(value: string): string {
  return value
    .replace(/\$\$/g, '\u0000')
    .replace(INTERPOLATION, (_m, name: string, op: string | undefined, arg: string | undefined) => {
      if (op === ':-' || op === '-') return arg ?? '';
      if (op === ':?' || op === '?') return `required-${name}`;
      return '';
    })
    .replace(/\u0000/g, '$');
}

/** The variables a value takes from the user's environment (`${NAME...}`). */
function variablesOf(value: string): string[] {
  return [...value.replace(/\$\$/g, '').matchAll(INTERPOLATION)].map((m) => m[1]);
}

function requiredVariablesOf(value: string): string[] {
  return [...value.replace(/\$\$/g, '').matchAll(INTERPOLATION)]
    .filter((m) => m[2] === ':?' || m[2] === '?')
    .map((m) => m[1]);
}

function publishedPorts(svc: Service | undefined): Port[] {
  const out: Port[] = [];
  for (const p of svc?.ports ?? []) {
    if (isRecord(p)) {
      out.push({
        hostIp: p.host_ip === undefined ? undefined : String(p.host_ip),
        published: Number(p.published),
        target: Number(p.target),
      });
      continue;
    }
    const spec = String(p).replace(/\/(tcp|udp)$/, '');
    const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+):(\d+)$/.exec(spec);
    if (m) out.push({ hostIp: m[1], published: Number(m[2]), target: Number(m[3]) });
    else out.push({ published: Number.NaN, target: Number.NaN });
  }
  return out;
}

function mountsOf(svc: Service | undefined): Mount[] {
  const out: Mount[] = [];
  for (const v of svc?.volumes ?? []) {
    if (isRecord(v)) {
      out.push({ source: String(v.source ?? ''), target: String(v.target ?? ''), bind: v.type === 'bind' });
      continue;
    }
    const [source = '', target = ''] = String(v).split(':');
    out.push({ source, target, bind: /^(\.{1,2}\/|\/|~)/.test(source) || source === '.' });
  }
  return out;
}

/** The repository file a bind mount's source names (sources are relative to the compose file). */
const repoPath = (source: string): string => path.resolve(path.dirname(COMPOSE_FILE), source);

function portOf(hostPort: string): number {
  const m = /:(\d+)$/.exec(hostPort);
  return m ? Number(m[1]) : Number.NaN;
}

function urlPort(url: string): number {
  const u = new URL(url);
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

function dependsOn(svc: Service | undefined): string[] {
  const d = svc?.depends_on;
  if (Array.isArray(d)) return d.map(String);
  if (isRecord(d)) return Object.keys(d);
  return [];
}

/** `name://host:port,...` listener lists of the Kafka image, by listener name. */
function listeners(value: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9_]+):\/\/(.*)$/.exec(item);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/** The settings value the sluice service uses: its environment, else the config default. */
function sluiceValue(c: Compose, env: string): string | undefined {
  const set = envOf(c.services.sluice)[env];
  return set === undefined ? BY_ENV.get(env)?.default : interpolate(set);
}

function kafkaInternalBootstrap(c: Compose): string | undefined {
  const advertised = listeners(envOf(c.services.kafka)['KAFKA_ADVERTISED_LISTENERS']);
  return [...advertised.values()].find((hp) => hp.startsWith('kafka:'));
}

function registryInternalUrl(c: Compose): string | undefined {
  const l = envOf(c.services['schema-registry'])['SCHEMA_REGISTRY_LISTENERS'];
  if (!l) return undefined;
  return `http://schema-registry:${urlPort(l.split(',')[0].replace('0.0.0.0', 'x'))}`;
}

function readDockerfile(c: Compose): { file: string; text: string } | undefined {
  const build = c.services.sluice?.build;
  const context = typeof build === 'string' ? build : isRecord(build) ? String(build.context ?? '.') : undefined;
  if (context === undefined) return undefined;
  const dockerfile = isRecord(build) && build.dockerfile ? String(build.dockerfile) : 'Dockerfile';
  const file = path.resolve(repoPath(context), dockerfile);
  return existsSync(file) ? { file, text: readFileSync(file, 'utf8') } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Checks: each returns the problems it finds

function checkServices(c: Compose): string[] {
  const problems: string[] = [];
  if (!isRecord(c) || !isRecord(c.services)) return ['no services mapping'];
  for (const name of REQUIRED_SERVICES) {
    const svc = c.services[name];
    if (!svc) {
      problems.push(`service ${name} is missing`);
      continue;
    }
    if (name === 'sluice') {
      if (!svc.build) problems.push('sluice must be built (build:)');
      continue;
    }
    if (typeof svc.image !== 'string' || !svc.image) {
      problems.push(`service ${name} has no image`);
      continue;
    }
    const tag = /:([^/:@]+)$/.exec(svc.image)?.[1];
    if (!tag || tag === 'latest') problems.push(`service ${name}: image ${svc.image} is not pinned to a tag`);
  }
  const expectImage: Record<string, RegExp> = {
    kafka: /^apache\/kafka:4\./,
    'schema-registry': /^confluentinc\/cp-schema-registry:7\.9\./,
    postgres: /^postgres:18/,
    minio: /^minio\/minio:RELEASE\./,
    'minio-init': /^minio\/mc:RELEASE\./,
    'kafka-ui': /^ghcr\.io\/kafbat\/kafka-ui:/,
    prometheus: /^prom\/prometheus:/,
    grafana: /^grafana\/grafana:/,
  };
  for (const [name, re] of Object.entries(expectImage)) {
    const image = c.services[name]?.image;
    if (typeof image === 'string' && !re.test(image)) problems.push(`service ${name}: unexpected image ${image}`);
  }
  for (const [name, svc] of Object.entries(c.services)) {
    for (const dep of dependsOn(svc))
      if (!c.services[dep]) problems.push(`service ${name} depends on unknown service ${dep}`);
    for (const m of mountsOf(svc)) {
      if (!m.bind && m.source && !(isRecord(c.volumes) && m.source in c.volumes))
        problems.push(`service ${name}: volume ${m.source} is not declared under volumes:`);
    }
  }
  return problems;
}

/** `$` must be `$$` (literal) or `${NAME...}`: anything else is a compose interpolation slip. */
function checkInterpolation(c: Compose): string[] {
  const problems: string[] = [];
  const walk = (v: unknown, where: string): void => {
    if (typeof v === 'string') {
      const rest = v.replace(/\$\$/g, '').replace(INTERPOLATION, '');
      if (rest.includes('$')) problems.push(`${where}: unescaped $ in ${JSON.stringify(v)} (write $$ for a literal $)`);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (isRecord(v)) for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
  };
  walk(c.services, 'services');
  return problems;
}

function checkPorts(c: Compose): string[] {
  const problems: string[] = [];
  const expected: [service: string, hostPort: number, setting: string][] = [
    ['kafka', portOf(SETTINGS.kafkaBrokers.default.split(',')[0]), 'SLUICE_KAFKA_BROKERS'],
    ['schema-registry', Number(SETTINGS.registryPort.default), 'SLUICE_REGISTRY_PORT'],
    ['minio', Number(SETTINGS.s3Port.default), 'SLUICE_S3_PORT'],
    ['postgres', Number(SETTINGS.pgPort.default), 'SLUICE_PG_PORT'],
    ['sluice', Number(SETTINGS.httpPort.default), 'SLUICE_HTTP_PORT'],
  ];
  // The URL defaults must agree with the port defaults they sit next to.
  if (urlPort(SETTINGS.registryUrl.default) !== Number(SETTINGS.registryPort.default))
    problems.push('config: SLUICE_REGISTRY_URL default port differs from SLUICE_REGISTRY_PORT');
  if (urlPort(SETTINGS.s3Endpoint.default) !== Number(SETTINGS.s3Port.default))
    problems.push('config: SLUICE_S3_ENDPOINT default port differs from SLUICE_S3_PORT');
  for (const [service, hostPort, setting] of expected) {
    const ports = publishedPorts(c.services[service]);
    if (!ports.some((p) => p.published === hostPort)) {
      problems.push(
        `service ${service} must publish host port ${hostPort} (${setting} default), publishes ${ports.map((p) => p.published).join(', ') || 'nothing'}`,
      );
    }
  }
  const seen = new Map<number, string>();
  for (const [name, svc] of Object.entries(c.services)) {
    for (const p of publishedPorts(svc)) {
      if (!Number.isInteger(p.published) || !Number.isInteger(p.target))
        problems.push(`service ${name}: cannot read a published port`);
      if (p.hostIp !== undefined && p.hostIp !== '127.0.0.1')
        problems.push(`service ${name}: port ${p.published} is published on ${p.hostIp}, not loopback`);
      if (seen.has(p.published))
        problems.push(`host port ${p.published} is published by both ${seen.get(p.published)} and ${name}`);
      seen.set(p.published, name);
    }
  }
  // Container sides: the port each service really listens on.
  const target = (svc: string, host: number) =>
    publishedPorts(c.services[svc]).find((p) => p.published === host)?.target;
  const kafkaEnv = envOf(c.services.kafka);
  const hostListener = [...listeners(kafkaEnv['KAFKA_ADVERTISED_LISTENERS']).entries()].find(
    ([, hp]) => portOf(hp) === expected[0][1],
  );
  const bound = hostListener && listeners(kafkaEnv['KAFKA_LISTENERS']).get(hostListener[0]);
  if (!bound || portOf(bound) !== target('kafka', expected[0][1]))
    problems.push('kafka: the published host port does not lead to the listener advertised on it');
  if (registryInternalUrl(c) && urlPort(registryInternalUrl(c)!) !== target('schema-registry', expected[1][1]))
    problems.push('schema-registry: published port does not reach SCHEMA_REGISTRY_LISTENERS');
  const s3 = sluiceValue(c, 'SLUICE_S3_ENDPOINT');
  if (!s3 || urlPort(s3) !== target('minio', expected[2][1]))
    problems.push('minio: the published S3 port does not reach the port sluice uses (SLUICE_S3_ENDPOINT)');
  if (Number(sluiceValue(c, 'SLUICE_PG_PORT')) !== target('postgres', expected[3][1]))
    problems.push('postgres: published port does not reach SLUICE_PG_PORT');
  if (Number(sluiceValue(c, 'SLUICE_HTTP_PORT')) !== target('sluice', expected[4][1]))
    problems.push('sluice: published port does not reach SLUICE_HTTP_PORT');
  return problems;
}

function checkKafka(c: Compose): string[] {
  const problems: string[] = [];
  const env = envOf(c.services.kafka);
  const bound = listeners(env['KAFKA_LISTENERS']);
  const advertised = listeners(env['KAFKA_ADVERTISED_LISTENERS']);
  const roles = (env['KAFKA_PROCESS_ROLES'] ?? '').split(',').map((s) => s.trim());
  if (!roles.includes('broker') || !roles.includes('controller'))
    problems.push('kafka: KAFKA_PROCESS_ROLES must be broker,controller (single-node KRaft)');
  const controller = env['KAFKA_CONTROLLER_LISTENER_NAMES'];
  if (!controller || !bound.has(controller))
    problems.push('kafka: KAFKA_CONTROLLER_LISTENER_NAMES must name a listener in KAFKA_LISTENERS');
  else if (
    !(env['KAFKA_CONTROLLER_QUORUM_VOTERS'] ?? env['KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS'] ?? '').includes(
      `kafka:${portOf(bound.get(controller)!)}`,
    )
  ) {
    problems.push('kafka: the controller quorum must point at kafka:<controller port>');
  }
  if (!env['CLUSTER_ID']) problems.push('kafka: CLUSTER_ID is required by the apache/kafka image');
  const internal = kafkaInternalBootstrap(c);
  if (!internal) problems.push('kafka: no advertised listener for containers (kafka:<port>)');
  const hostAdvertised = [...advertised.values()];
  if (!hostAdvertised.includes(SETTINGS.kafkaBrokers.default))
    problems.push(
      `kafka: no listener advertised as ${SETTINGS.kafkaBrokers.default} (SLUICE_KAFKA_BROKERS default) for the host`,
    );
  for (const name of advertised.keys()) {
    if (!bound.has(name)) problems.push(`kafka: advertised listener ${name} is not in KAFKA_LISTENERS`);
    if (!(env['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP'] ?? '').includes(`${name}:`))
      problems.push(`kafka: listener ${name} has no security protocol`);
  }
  const inter = env['KAFKA_INTER_BROKER_LISTENER_NAME'];
  if (!inter || advertised.get(inter) !== internal)
    problems.push('kafka: KAFKA_INTER_BROKER_LISTENER_NAME must be the internal listener');
  const expect: Record<string, string> = {
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
  };
  for (const [k, v] of Object.entries(expect))
    if (env[k] !== v) problems.push(`kafka: ${k} must be ${v}, is ${env[k]}`);
  const registryStore = envOf(c.services['schema-registry'])['SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS'] ?? '';
  if (!internal || registryStore.replace(/^[A-Z_]+:\/\//, '') !== internal)
    problems.push(
      `schema-registry: SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS must be the internal listener ${internal}, is ${registryStore}`,
    );
  return problems;
}

function checkSluice(c: Compose): string[] {
  const problems: string[] = [];
  const svc = c.services.sluice;
  const env = envOf(svc);
  const allowed = new Set<string>(['SLUICE_CONFIG_FILE']);
  for (const s of KNOWN) {
    allowed.add(s.env);
    if (s.secret) allowed.add(`${s.env}_FILE`);
  }
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('SLUICE_')) continue;
    if (!allowed.has(name)) {
      problems.push(`sluice: ${name} is not a setting of src/config/config.ts`);
      continue;
    }
    const setting = BY_ENV.get(name);
    if (setting && !setting.schema.safeParse(interpolate(raw)).success)
      problems.push(`sluice: ${name}=${raw} is not a valid value`);
  }
  const want = (name: string, expected: string | undefined, why: string) => {
    const got = sluiceValue(c, name);
    if (expected === undefined || got !== expected)
      problems.push(`sluice: ${name} must be ${expected} (${why}), is ${got}`);
  };
  want('SLUICE_KAFKA_BROKERS', kafkaInternalBootstrap(c), "the kafka service's internal listener");
  want('SLUICE_REGISTRY_URL', registryInternalUrl(c), 'the schema-registry service');
  want('SLUICE_PG_HOST', 'postgres', 'the postgres service');
  want('SLUICE_HTTP_HOST', '0.0.0.0', 'reachable from outside the container');
  const minioApi = publishedPorts(c.services.minio).find(
    (p) => p.published === Number(SETTINGS.s3Port.default),
  )?.target;
  want('SLUICE_S3_ENDPOINT', `http://minio:${minioApi}`, "the minio service's S3 API");
  if (sluiceValue(c, 'SLUICE_S3_FORCE_PATH_STYLE') !== 'true')
    problems.push('sluice: MinIO needs SLUICE_S3_FORCE_PATH_STYLE=true');

  // Secrets: from the user's environment, shared with the service that owns them; never literal.
  for (const name of ['SLUICE_PG_PASSWORD', 'SLUICE_S3_SECRET_ACCESS_KEY']) {
    if (!env[name] || variablesOf(env[name]).length === 0)
      problems.push(`sluice: ${name} must come from the environment (\${${name}:?...}), not be written in the file`);
  }
  const pg = envOf(c.services.postgres);
  const minio = envOf(c.services.minio);
  const sameVariable = (a: string | undefined, b: string | undefined) =>
    !!a && !!b && variablesOf(a).length > 0 && variablesOf(a).join() === variablesOf(b).join();
  if (!sameVariable(pg['POSTGRES_PASSWORD'], env['SLUICE_PG_PASSWORD']))
    problems.push("postgres: POSTGRES_PASSWORD must use the same variable as sluice's SLUICE_PG_PASSWORD");
  if (!sameVariable(minio['MINIO_ROOT_PASSWORD'], env['SLUICE_S3_SECRET_ACCESS_KEY']))
    problems.push("minio: MINIO_ROOT_PASSWORD must use the same variable as sluice's SLUICE_S3_SECRET_ACCESS_KEY");
  if (requiredVariablesOf(pg['POSTGRES_PASSWORD'] ?? '').length === 0 && !/:-/.test(pg['POSTGRES_PASSWORD'] ?? ''))
    problems.push('postgres: POSTGRES_PASSWORD needs ${VAR:?...} (or a documented dev default)');
  // A user running sluice on the host relies on the config defaults for user names.
  if (pg['POSTGRES_USER'] !== SETTINGS.pgUser.default || sluiceValue(c, 'SLUICE_PG_USER') !== SETTINGS.pgUser.default)
    problems.push(`postgres: POSTGRES_USER and SLUICE_PG_USER must be ${SETTINGS.pgUser.default} (the config default)`);
  if (
    minio['MINIO_ROOT_USER'] !== SETTINGS.s3AccessKeyId.default ||
    sluiceValue(c, 'SLUICE_S3_ACCESS_KEY_ID') !== SETTINGS.s3AccessKeyId.default
  )
    problems.push(
      `minio: MINIO_ROOT_USER and SLUICE_S3_ACCESS_KEY_ID must be ${SETTINGS.s3AccessKeyId.default} (the config default)`,
    );

  // The bucket minio-init creates is the one sluice writes to.
  const bucket = sluiceValue(c, 'SLUICE_S3_BUCKET');
  const init = [c.services['minio-init']?.entrypoint, c.services['minio-init']?.command]
    .flat()
    .filter((x) => x !== undefined)
    .map(String)
    .join(' ');
  if (!bucket || !new RegExp(`\\bmb\\b[^;&|]*/${bucket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$|;)`).test(init))
    problems.push(`minio-init: must create bucket ${bucket} (mc mb ...)`);
  if (!dependsOn(c.services['minio-init']).includes('minio')) problems.push('minio-init must depend on minio');

  for (const dep of ['kafka', 'schema-registry', 'postgres', 'minio-init'])
    if (!dependsOn(svc).includes(dep)) problems.push(`sluice must depend on ${dep}`);

  // The image: Node 24 slim, npm ci, runs `sluice run`.
  const df = readDockerfile(c);
  if (!df) problems.push('sluice: its Dockerfile does not exist');
  else {
    if (!/^FROM\s+node:24-slim\b/m.test(df.text)) problems.push('Dockerfile: base must be node:24-slim');
    if (!/^RUN\s+npm ci\b/m.test(df.text)) problems.push('Dockerfile: must install with npm ci');
    const command = svc?.command ?? /^CMD\s+(\[.*\])\s*$/m.exec(df.text)?.[1];
    const argv = Array.isArray(command)
      ? command.map(String)
      : typeof command === 'string'
        ? command.startsWith('[')
          ? (JSON.parse(command) as string[])
          : command.split(/\s+/)
        : [];
    if (argv.join(' ') !== 'node src/cli/main.ts run')
      problems.push(`sluice: must run \`node src/cli/main.ts run\`, runs ${argv.join(' ')}`);
    if (!existsSync(path.join(ROOT, 'src', 'cli', 'main.ts'))) problems.push('src/cli/main.ts does not exist');
    for (const m of df.text.matchAll(/\b(SLUICE_[A-Z0-9_]+)=/g))
      if (!allowed.has(m[1])) problems.push(`Dockerfile: ${m[1]} is not a setting of src/config/config.ts`);
  }
  return problems;
}

function checkPostgresInit(c: Compose): string[] {
  const problems: string[] = [];
  const mounts = mountsOf(c.services.postgres);
  if (mounts.some((m) => m.target === '/var/lib/postgresql/data'))
    problems.push('postgres: from Postgres 18 the data volume goes on /var/lib/postgresql, not .../data');
  const init = mounts.find((m) => m.bind && m.target.startsWith('/docker-entrypoint-initdb.d'));
  if (!init) return [...problems, 'postgres: no init script mounted under /docker-entrypoint-initdb.d'];
  const src = repoPath(init.source);
  if (!existsSync(src)) return [...problems, `postgres: init source ${init.source} does not exist`];
  const files = statSync(src).isDirectory()
    ? readdirSync(src)
        .filter((f) => /\.(sql|sh)$/.test(f))
        .map((f) => path.join(src, f))
    : [src];
  const sql = files.map((f) => readFileSync(f, 'utf8')).join('\n');
  for (const name of ['SLUICE_OLTP_DATABASE', 'SLUICE_WAREHOUSE_DATABASE']) {
    const db = sluiceValue(c, name);
    if (!db || !new RegExp(`CREATE\\s+DATABASE\\s+"?${db}"?[\\s;]`, 'i').test(sql))
      problems.push(`postgres: the init script does not create database ${db} (${name})`);
  }
  return problems;
}

function checkKafkaUi(c: Compose): string[] {
  const problems: string[] = [];
  const env = envOf(c.services['kafka-ui']);
  const internal = kafkaInternalBootstrap(c);
  if (!internal || env['KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS'] !== internal)
    problems.push(
      `kafka-ui: KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS must be the internal listener ${internal}, is ${env['KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS']}`,
    );
  const registry = registryInternalUrl(c);
  if (!registry || env['KAFKA_CLUSTERS_0_SCHEMAREGISTRY'] !== registry)
    problems.push(
      `kafka-ui: KAFKA_CLUSTERS_0_SCHEMAREGISTRY must be ${registry}, is ${env['KAFKA_CLUSTERS_0_SCHEMAREGISTRY']}`,
    );
  if (env['KAFKA_CLUSTERS_0_DEFAULTKEYSERDE'] !== 'String')
    problems.push('kafka-ui: keys must default to the String serde');
  if (env['KAFKA_CLUSTERS_0_DEFAULTVALUESERDE'] !== 'SchemaRegistry')
    problems.push('kafka-ui: values must default to the SchemaRegistry serde (Avro through the registry)');
  for (const dep of ['kafka', 'schema-registry'])
    if (!dependsOn(c.services['kafka-ui']).includes(dep)) problems.push(`kafka-ui must depend on ${dep}`);

  // A serde for the DLQ topics, whose values are the original bytes.
  const readable = new Set(['SchemaRegistry', 'String', 'Base64', 'Hex']);
  const readableClasses = new Set([
    'io.kafbat.ui.serdes.builtin.sr.SchemaRegistrySerde',
    'io.kafbat.ui.serdes.builtin.StringSerde',
    'io.kafbat.ui.serdes.builtin.Base64Serde',
    'io.kafbat.ui.serdes.builtin.HexSerde',
  ]);
  const dlqSerdes: string[] = [];
  for (let i = 0; env[`KAFKA_CLUSTERS_0_SERDE_${i}_NAME`] !== undefined; i++) {
    const p = `KAFKA_CLUSTERS_0_SERDE_${i}_`;
    const pattern = env[`${p}TOPICVALUESPATTERN`];
    if (pattern === undefined) continue;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${pattern})$`);
    } catch {
      problems.push(`kafka-ui: serde ${i} has an invalid pattern ${pattern}`);
      continue;
    }
    const matchesDlq = ['oltp.orders.dlq', 'oltp.customers.dlq', 'web.clickstream.dlq'].every((t) => re.test(t));
    const matchesOthers = ['oltp.orders', 'web.clickstream', 'silver.orders', 'metrics.revenue_per_minute'].some((t) =>
      re.test(t),
    );
    if (!matchesDlq) continue;
    if (matchesOthers) {
      problems.push(`kafka-ui: serde ${i} pattern ${pattern} also catches non-DLQ topics`);
      continue;
    }
    const name = env[`${p}NAME`];
    const className = env[`${p}CLASSNAME`];
    if (!(readable.has(name) && !className) && !(className && readableClasses.has(className))) {
      problems.push(`kafka-ui: DLQ serde ${name} is not a readable built-in serde`);
      continue;
    }
    const isRegistry = name === 'SchemaRegistry' || className === 'io.kafbat.ui.serdes.builtin.sr.SchemaRegistrySerde';
    if (isRegistry && className && env[`${p}PROPERTIES_URL`] !== registry)
      problems.push(`kafka-ui: DLQ serde ${name} must point at ${registry}`);
    dlqSerdes.push(name);
  }
  if (dlqSerdes.length === 0)
    problems.push('kafka-ui: no serde configured for DLQ topics (topic values pattern matching <source>.dlq)');
  return problems;
}

function checkPrometheus(c: Compose): string[] {
  const problems: string[] = [];
  const mount = mountsOf(c.services.prometheus).find((m) => m.bind && m.target === '/etc/prometheus/prometheus.yml');
  if (!mount) return ['prometheus: stack/prometheus/prometheus.yml is not mounted at /etc/prometheus/prometheus.yml'];
  if (path.relative(ROOT, repoPath(mount.source)) !== path.join('stack', 'prometheus', 'prometheus.yml'))
    problems.push(`prometheus: config must come from stack/prometheus/prometheus.yml, not ${mount.source}`);
  const file = repoPath(mount.source);
  if (!existsSync(file)) return [...problems, `prometheus: ${mount.source} does not exist`];
  const cfg = loadYaml(file) as {
    scrape_configs?: { job_name?: string; metrics_path?: string; static_configs?: { targets?: string[] }[] }[];
  };
  const target = `sluice:${sluiceValue(c, 'SLUICE_HTTP_PORT')}`;
  const jobs = (cfg.scrape_configs ?? []).filter((j) =>
    (j.static_configs ?? []).some((s) => (s.targets ?? []).includes(target)),
  );
  if (jobs.length === 0)
    problems.push(`prometheus: no scrape job targets ${target} (the sluice service and SLUICE_HTTP_PORT)`);
  for (const j of jobs)
    if ((j.metrics_path ?? '/metrics') !== '/metrics')
      problems.push(`prometheus: job ${j.job_name} scrapes ${j.metrics_path}, not /metrics`);
  return problems;
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: { expr?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  panels?: Panel[];
  templating?: { list?: { name: string; type: string; query?: unknown }[] };
}

function checkDashboard(d: Dashboard): string[] {
  const problems: string[] = [];
  if (!d || typeof d !== 'object') return ['dashboard: not a JSON object'];
  if (!d.uid || !d.title) problems.push('dashboard: uid and title are required');
  const all: Panel[] = [];
  for (const p of d.panels ?? []) {
    all.push(p);
    for (const q of p.panels ?? []) all.push(q);
  }
  const panels = all.filter((p) => p.type !== 'row');
  if (panels.length === 0) problems.push('dashboard: no panels');
  const ids = new Set<number>();
  const exprs: string[] = [];
  const known = new Set([
    ...COUNTERS_AND_GAUGES,
    ...HISTOGRAMS.flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`]),
  ]);
  const vars = new Map((d.templating?.list ?? []).map((v) => [v.name, v]));
  for (const p of all) {
    if (typeof p.id !== 'number' || ids.has(p.id)) problems.push(`dashboard: panel "${p.title}" needs a unique id`);
    else ids.add(p.id);
    if (!p.gridPos) problems.push(`dashboard: panel "${p.title}" has no gridPos`);
  }
  for (const p of panels) {
    const targets = p.targets ?? [];
    if (targets.length === 0) problems.push(`dashboard: panel "${p.title}" has no query`);
    for (const t of targets) {
      const expr = t.expr ?? '';
      const metrics = expr.match(/\bsluice_[a-z0-9_]+/g) ?? [];
      if (metrics.length === 0)
        problems.push(`dashboard: panel "${p.title}" query does not use a sluice_ metric: ${expr}`);
      for (const m of metrics)
        if (!known.has(m)) problems.push(`dashboard: panel "${p.title}" uses unknown metric ${m}`);
      exprs.push(expr);
    }
    const uid = p.datasource?.uid;
    if (uid !== 'prometheus' && !(uid === '${datasource}' && vars.get('datasource')?.type === 'datasource'))
      problems.push(`dashboard: panel "${p.title}" does not use the Prometheus datasource`);
  }
  const text = exprs.join('\n');
  for (const m of COUNTERS_AND_GAUGES)
    if (!new RegExp(`\\b${m}\\b`).test(text)) problems.push(`dashboard: no panel shows ${m}`);
  for (const h of HISTOGRAMS) {
    for (const q of ['0.5', '0.99']) {
      if (
        !exprs.some((e) =>
          new RegExp(`histogram_quantile\\(\\s*${q.replace('.', '\\.')}\\s*,[^\\n]*\\b${h}_bucket\\b`).test(e),
        )
      )
        problems.push(`dashboard: no p${Number(q) * 100} of ${h}`);
    }
  }
  for (const m of text.matchAll(/\$([a-z_]+)/g))
    if (!m[1].startsWith('__') && !vars.has(m[1])) problems.push(`dashboard: query uses undefined variable $${m[1]}`);
  return problems;
}

function checkGrafana(c: Compose): string[] {
  const problems: string[] = [];
  const mounts = mountsOf(c.services.grafana).filter((m) => m.bind);
  const prov = mounts.find((m) => m.target === '/etc/grafana/provisioning');
  if (!prov) return ['grafana: stack/grafana/provisioning is not mounted at /etc/grafana/provisioning'];
  const provDir = repoPath(prov.source);
  if (!existsSync(provDir)) return [`grafana: ${prov.source} does not exist`];

  // Datasource: the compose prometheus service.
  const promPort = publishedPorts(c.services.prometheus)[0]?.target ?? 9090;
  const dsDir = path.join(provDir, 'datasources');
  const datasources = existsSync(dsDir)
    ? readdirSync(dsDir)
        .filter((f) => /\.ya?ml$/.test(f))
        .flatMap(
          (f) =>
            (loadYaml(path.join(dsDir, f)) as { datasources?: { type?: string; url?: string; uid?: string }[] })
              .datasources ?? [],
        )
    : [];
  const prom = datasources.find((d) => d.type === 'prometheus');
  if (!prom) problems.push('grafana: no Prometheus datasource provisioned');
  else if (prom.url !== `http://prometheus:${promPort}`)
    problems.push(`grafana: the Prometheus datasource must point at http://prometheus:${promPort}, not ${prom.url}`);

  // Dashboards: a file provider whose path is where the dashboard JSON is mounted.
  const dbDir = path.join(provDir, 'dashboards');
  const providers = existsSync(dbDir)
    ? readdirSync(dbDir)
        .filter((f) => /\.ya?ml$/.test(f))
        .flatMap(
          (f) =>
            (loadYaml(path.join(dbDir, f)) as { providers?: { type?: string; options?: { path?: string } }[] })
              .providers ?? [],
        )
    : [];
  if (providers.length === 0) problems.push('grafana: no dashboard provider provisioned');
  let found = 0;
  for (const provider of providers) {
    const p = provider.options?.path ?? '';
    const mount = mounts.find((m) => p === m.target || p.startsWith(`${m.target}/`));
    if (!mount) {
      problems.push(`grafana: dashboard provider path ${p} is not mounted`);
      continue;
    }
    const hostDir = path.join(repoPath(mount.source), path.relative(mount.target, p));
    const json = existsSync(hostDir) ? readdirSync(hostDir).filter((f) => f.endsWith('.json')) : [];
    for (const f of json) {
      found++;
      let d: Dashboard;
      try {
        d = JSON.parse(readFileSync(path.join(hostDir, f), 'utf8')) as Dashboard;
      } catch (err) {
        problems.push(`grafana: ${f} is not valid JSON: ${(err as Error).message}`);
        continue;
      }
      problems.push(...checkDashboard(d).map((s) => `${f}: ${s}`));
    }
  }
  if (found === 0) problems.push('grafana: no dashboard JSON where the provider looks');
  if (!existsSync(path.join(ROOT, 'stack', 'grafana', 'dashboards', 'sluice.json')))
    problems.push('stack/grafana/dashboards/sluice.json does not exist');
  return problems;
}

/** Every file or directory the compose file mounts or builds from exists in the repository. */
function checkMountedFiles(c: Compose): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(c.services)) {
    for (const m of mountsOf(svc)) {
      if (!m.bind) continue;
      if (m.source.startsWith('/') || m.source.startsWith('~')) {
        problems.push(`service ${name}: mounts ${m.source}, outside the repository`);
        continue;
      }
      const file = repoPath(m.source);
      if (!file.startsWith(ROOT + path.sep) && file !== ROOT)
        problems.push(`service ${name}: mounts ${m.source}, outside the repository`);
      else if (!existsSync(file)) problems.push(`service ${name}: mounted ${m.source} does not exist`);
    }
    const build = svc.build;
    if (build !== undefined) {
      const context = typeof build === 'string' ? build : isRecord(build) ? String(build.context ?? '.') : '.';
      const dockerfile = isRecord(build) && build.dockerfile ? String(build.dockerfile) : 'Dockerfile';
      if (!existsSync(repoPath(context))) problems.push(`service ${name}: build context ${context} does not exist`);
      else if (!existsSync(path.resolve(repoPath(context), dockerfile)))
        problems.push(`service ${name}: ${dockerfile} does not exist`);
    }
  }
  return problems;
}

const ALL_CHECKS = {
  checkServices,
  checkInterpolation,
  checkPorts,
  checkKafka,
  checkSluice,
  checkPostgresInit,
  checkKafkaUi,
  checkPrometheus,
  checkGrafana,
  checkMountedFiles,
};

// ---------------------------------------------------------------------------------------------
// Tests on the real file

test('docker-compose.yml parses (no duplicate keys, no YAML errors) and has a services mapping', () => {
  const c = loadCompose();
  assert.ok(isRecord(c.services), 'services must be a mapping');
});

for (const [name, check] of Object.entries(ALL_CHECKS)) {
  test(`docker-compose.yml: ${name}`, () => {
    assert.deepEqual(check(loadCompose()), []);
  });
}

test('the Grafana dashboard covers every runner metric', () => {
  const d = JSON.parse(
    readFileSync(path.join(ROOT, 'stack', 'grafana', 'dashboards', 'sluice.json'), 'utf8'),
  ) as Dashboard;
  assert.deepEqual(checkDashboard(d), []);
});

// ---------------------------------------------------------------------------------------------
// The checks fail on broken files

function expectProblem(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}, got ${JSON.stringify(problems)}`,
  );
}

test('a missing service or an unpinned image is reported', () => {
  const c = clone(loadCompose());
  delete c.services.grafana;
  c.services.kafka.image = 'apache/kafka:latest';
  const problems = checkServices(c);
  expectProblem(problems, /service grafana is missing/);
  expectProblem(problems, /apache\/kafka:latest is not pinned/);
});

test('a host port that differs from the config default is reported', () => {
  const c = clone(loadCompose());
  c.services.kafka.ports = ['127.0.0.1:19092:9092'];
  c.services.postgres.ports = [{ target: 5432, published: 15432 }];
  const problems = checkPorts(c);
  expectProblem(problems, /kafka must publish host port 9092/);
  expectProblem(problems, /postgres must publish host port 5432/);
});

test('a misspelt or invalid SLUICE_* variable on the sluice service is reported', () => {
  const c = clone(loadCompose());
  const env = c.services.sluice.environment as Record<string, string>;
  env.SLUICE_KAFKA_BROKER = 'kafka:29092';
  env.SLUICE_PG_PORT = 'not-a-port';
  const problems = checkSluice(c);
  expectProblem(problems, /SLUICE_KAFKA_BROKER is not a setting/);
  expectProblem(problems, /SLUICE_PG_PORT=not-a-port is not a valid value/);
});

test('sluice pointed at the host listener, or with a literal password, is reported', () => {
  const c = clone(loadCompose());
  const env = c.services.sluice.environment as Record<string, string>;
  env.SLUICE_KAFKA_BROKERS = '127.0.0.1:9092';
  env.SLUICE_PG_PASSWORD = 'hunter2';
  env.SLUICE_HTTP_HOST = '127.0.0.1';
  const problems = checkSluice(c);
  expectProblem(problems, /SLUICE_KAFKA_BROKERS must be kafka:/);
  expectProblem(problems, /SLUICE_PG_PASSWORD must come from the environment/);
  expectProblem(problems, /SLUICE_HTTP_HOST must be 0\.0\.0\.0/);
});

test('kafka-ui pointed at the host listener, or without a DLQ serde, is reported', () => {
  const c = clone(loadCompose());
  const env = c.services['kafka-ui'].environment as Record<string, string>;
  env.KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS = 'localhost:9092';
  for (const k of Object.keys(env)) if (k.startsWith('KAFKA_CLUSTERS_0_SERDE_')) delete env[k];
  const problems = checkKafkaUi(c);
  expectProblem(problems, /BOOTSTRAPSERVERS must be the internal listener/);
  expectProblem(problems, /no serde configured for DLQ topics/);
});

test('a DLQ serde pattern that also catches ordinary topics is reported', () => {
  const c = clone(loadCompose());
  const env = c.services['kafka-ui'].environment as Record<string, string>;
  env.KAFKA_CLUSTERS_0_SERDE_0_TOPICVALUESPATTERN = '.*';
  expectProblem(checkKafkaUi(c), /also catches non-DLQ topics/);
});

test('a mount of a file that does not exist is reported', () => {
  const c = clone(loadCompose());
  c.services.prometheus.volumes = ['./stack/prometheus/missing.yml:/etc/prometheus/prometheus.yml:ro'];
  expectProblem(checkMountedFiles(c), /missing\.yml does not exist/);
  expectProblem(checkPrometheus(c), /config must come from stack\/prometheus\/prometheus\.yml/);
});

test('a compose interpolation slip ($VAR instead of $$VAR) is reported', () => {
  const c = clone(loadCompose());
  c.services['minio-init'].command = ['mc alias set lake http://minio:9000 "$MINIO_ROOT_USER" x'];
  expectProblem(checkInterpolation(c), /unescaped \$/);
});

test('a Kafka broker with auto topic creation or a missing internal listener is reported', () => {
  const c = clone(loadCompose());
  const env = c.services.kafka.environment as Record<string, string>;
  env.KAFKA_AUTO_CREATE_TOPICS_ENABLE = 'true';
  env.KAFKA_ADVERTISED_LISTENERS = 'EXTERNAL://127.0.0.1:9092';
  const problems = checkKafka(c);
  expectProblem(problems, /KAFKA_AUTO_CREATE_TOPICS_ENABLE must be false/);
  expectProblem(problems, /no advertised listener for containers/);
});

test('a dashboard panel without a sluice_ metric, or a missing metric, is reported', () => {
  const d = JSON.parse(
    readFileSync(path.join(ROOT, 'stack', 'grafana', 'dashboards', 'sluice.json'), 'utf8'),
  ) as Dashboard;
  const panel = (d.panels ?? []).find(
    (p) => p.type !== 'row' && (p.targets ?? []).some((t) => (t.expr ?? '').includes('sluice_consumer_lag_records')),
  );
  assert.ok(panel);
  for (const p of d.panels ?? [])
    for (const t of p.targets ?? []) if ((t.expr ?? '').includes('sluice_consumer_lag_records')) t.expr = 'up';
  const problems = checkDashboard(d);
  expectProblem(problems, /does not use a sluice_ metric/);
  expectProblem(problems, /no panel shows sluice_consumer_lag_records/);
});
