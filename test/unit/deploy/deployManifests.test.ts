/**
 * The runner image (Dockerfile) and the Kubernetes manifests (stack/k8s/) cannot be built or
 * applied here (no Docker engine, no cluster), so this test parses them and checks them against
 * the code: the settings of src/config/config.ts, the group id the runner derives, the shutdown
 * deadline, the HTTP endpoints and the package's `sluice` bin.
 *
 * Each check returns the problems it finds; the positive test expects none, and the negative tests
 * break a copy on purpose to prove each check can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig, PROJECT_ROOT, SETTINGS } from '../../../src/config/config.ts';
import { createEngineMetrics } from '../../../src/engine/engineMetrics.ts';
import { TopologyRunner } from '../../../src/runner/topologyRunner.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';

// ---------------------------------------------------------------------------------------------
// Loading

type Obj = Record<string, any>;

interface KnownSetting {
  env: string;
  secret?: boolean;
  schema: { safeParse(value: unknown): { success: boolean } };
}

interface Deploy {
  /** YAML text of every file in stack/k8s, by file name. */
  texts: Record<string, string>;
  /** Parsed documents of every file, by file name. */
  docs: Record<string, Obj[]>;
  dockerfile: string;
  dockerignore: string;
}

const ROOT = PROJECT_ROOT;
const K8S_DIR = path.join(ROOT, 'stack', 'k8s');
const KUSTOMIZATION = 'kustomization.yaml';
const KNOWN = Object.values(SETTINGS) as KnownSetting[];
const BY_ENV = new Map(KNOWN.map((s) => [s.env, s]));
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Obj;

function parseYaml(file: string, text: string): { docs: Obj[]; problems: string[] } {
  const problems: string[] = [];
  const docs: Obj[] = [];
  for (const doc of parseAllDocuments(text)) {
    for (const e of [...doc.errors, ...doc.warnings]) problems.push(`${file}: ${e.message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) docs.push(value as Obj);
  }
  return { docs, problems };
}

function loadDeploy(): Deploy {
  const texts: Record<string, string> = {};
  for (const f of readdirSync(K8S_DIR)) texts[f] = readFileSync(path.join(K8S_DIR, f), 'utf8');
  const docs: Record<string, Obj[]> = {};
  for (const [f, text] of Object.entries(texts)) docs[f] = parseYaml(f, text).docs;
  const read = (f: string) => (existsSync(path.join(ROOT, f)) ? readFileSync(path.join(ROOT, f), 'utf8') : '');
  return { texts, docs, dockerfile: read('Dockerfile'), dockerignore: read('.dockerignore') };
}

const clone = <T>(v: T): T => structuredClone(v);

/** Every Kubernetes object of the folder (the kustomization aside). */
const objects = (d: Deploy): Obj[] =>
  Object.entries(d.docs)
    .filter(([f]) => f !== KUSTOMIZATION)
    .flatMap(([, docs]) => docs);
const ofKind = (d: Deploy, kind: string): Obj[] => objects(d).filter((o) => o.kind === kind);
const one = (d: Deploy, kind: string): Obj | undefined => ofKind(d, kind)[0];
const container = (d: Deploy): Obj | undefined => one(d, 'Deployment')?.spec?.template?.spec?.containers?.[0];
const configData = (d: Deploy): Record<string, string> => one(d, 'ConfigMap')?.data ?? {};
const secretKeys = (d: Deploy): string[] => {
  const s = one(d, 'Secret');
  return [...Object.keys(s?.stringData ?? {}), ...Object.keys(s?.data ?? {})];
};

/** A probe's or Service's port (a number or a container port's name) as a number. */
function resolvePort(c: Obj | undefined, port: unknown): number {
  if (typeof port === 'number') return port;
  const named = (c?.ports ?? []).find((p: Obj) => p.name === port);
  return named ? Number(named.containerPort) : Number.NaN;
}

const matches = (selector: Obj | undefined, labels: Obj | undefined): boolean =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The topologies a Deployment's `sluice run` arguments select (`-t`/`--topology`, variadic). */
function topologiesOf(args: string[]): string[] {
  const out: string[] = [];
  let inList = false;
  for (const a of args.slice(1)) {
    if (a === '-t' || a === '--topology') inList = true;
    else if (a.startsWith('--topology=')) out.push(a.slice('--topology='.length));
    else if (a.startsWith('-')) inList = false;
    else if (inList) out.push(a);
  }
  return out;
}

let metrics: ReturnType<typeof createEngineMetrics> | undefined;
/** The group id the runner itself derives for a topology (TopologyRunner's default), not a copy of the rule. */
function runnerGroupId(topology: string): string {
  metrics ??= createEngineMetrics();
  const runner = new TopologyRunner({
    cfg: loadConfig({}),
    def: TOPOLOGIES[topology],
    kafka: {} as never,
    registry: {} as never,
    serde: {} as never,
    metrics,
    onFatal: () => {},
  });
  return (runner as unknown as { opts: { groupId: string } }).opts.groupId;
}

/** The runner's graceful-stop deadline (ms), as src/runner/runnerProcess.ts defaults it. */
function shutdownDeadlineMs(): number {
  const code = readFileSync(path.join(ROOT, 'src', 'runner', 'runnerProcess.ts'), 'utf8');
  const m = /shutdownDeadlineMs \?\? ([\d_]+)/.exec(code);
  return m ? Number(m[1].replace(/_/g, '')) : Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile parsing

interface Instruction {
  cmd: string;
  args: string;
}

/** Instructions with continuation lines joined; comment and blank lines dropped, as Docker does. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const m = /^(\S+)\s*(.*)$/s.exec(current);
    if (m) out.push({ cmd: m[1].toUpperCase(), args: m[2].trim() });
    current = '';
  }
  return out;
}

function stagesOf(ins: Instruction[]): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const i of ins) {
    if (i.cmd === 'FROM') stages.push([]);
    stages.at(-1)?.push(i);
  }
  return stages;
}

/** The image a FROM names (flags such as --platform and `AS name` left out). */
const fromImage = (args: string): string => args.split(/\s+/).find((t) => !t.startsWith('--')) ?? '';
const stageName = (args: string): string | undefined => /\sAS\s+(\S+)\s*$/i.exec(args)?.[1];

function execForm(args: string | undefined): string[] | undefined {
  if (!args?.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A path excluded by a .dockerignore (plain names, `dir`, `**\/name`, `*.ext` patterns). */
function ignored(dockerignore: string, file: string): boolean {
  const f = path.posix.normalize(file).replace(/^\.\/|\/$/g, '');
  return dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'))
    .some((p) => {
      const pat = p.replace(/^\/|\/$/g, '');
      const body = pat
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\u0000')
        .replace(/\*/g, '[^/]*')
        .replace(/\u0000/g, '(?:.*/)?');
      return new RegExp(`^${body}(?:/.*)?$`).test(f);
    });
}

/** Node's major version the project pins (the npm package `node`). */
const pinnedNodeMajor = (): number => Number(/(\d+)/.exec(String(PACKAGE.dependencies?.node ?? ''))?.[1]);

// ---------------------------------------------------------------------------------------------
// Checks: each returns the problems it finds

function checkYaml(texts: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, text] of Object.entries(texts)) {
    if (!/\.ya?ml$/.test(file)) continue;
    const { docs, problems: parse } = parseYaml(file, text);
    problems.push(...parse);
    if (!docs.length) problems.push(`${file}: no YAML document`);
    for (const doc of docs) {
      if (typeof doc !== 'object' || Array.isArray(doc)) problems.push(`${file}: a document is not a mapping`);
      else if (!doc.apiVersion || !doc.kind) problems.push(`${file}: a document has no apiVersion or kind`);
      else if (file !== KUSTOMIZATION && !doc.metadata?.name) problems.push(`${file}: ${doc.kind} has no name`);
    }
  }
  return problems;
}

function checkKustomization(d: Deploy): string[] {
  const problems: string[] = [];
  const k = d.docs[KUSTOMIZATION]?.[0];
  if (!k) return [`stack/k8s/${KUSTOMIZATION} is missing`];
  if (k.kind !== 'Kustomization') problems.push(`${KUSTOMIZATION}: kind must be Kustomization`);
  const listed: string[] = (k.resources ?? []).map(String);
  const files = Object.keys(d.texts).filter((f) => f !== KUSTOMIZATION);
  for (const f of files) if (!listed.includes(f)) problems.push(`${KUSTOMIZATION}: ${f} is not in resources`);
  for (const r of listed) if (!files.includes(r)) problems.push(`${KUSTOMIZATION}: resource ${r} is not in the folder`);
  if (k.namespace !== undefined) problems.push(`${KUSTOMIZATION}: must not set a namespace (apply with -n)`);
  for (const o of objects(d)) {
    if (o.kind === 'Namespace') problems.push('the manifests must not create a Namespace');
    if (o.metadata?.namespace !== undefined) problems.push(`${o.kind} ${o.metadata?.name} sets a namespace`);
  }
  const image = container(d)?.image;
  if (!(k.images ?? []).some((i: Obj) => i.name === image))
    problems.push(`${KUSTOMIZATION}: images has no entry for the runner's image ${image}`);
  return problems;
}

function checkHttp(d: Deploy): string[] {
  const problems: string[] = [];
  const c = container(d);
  if (!c) return ['no Deployment with a container'];
  const ports: Obj[] = c.ports ?? [];
  const httpPort = Number(configData(d).SLUICE_HTTP_PORT);
  if (ports.length !== 1 || Number(ports[0].containerPort) !== httpPort)
    problems.push(
      `container port ${ports.map((p) => p.containerPort)} must equal ConfigMap SLUICE_HTTP_PORT ${httpPort}`,
    );
  if (configData(d).SLUICE_HTTP_HOST !== '0.0.0.0') problems.push('ConfigMap SLUICE_HTTP_HOST must be 0.0.0.0');
  const probes: [string, string][] = [
    ['livenessProbe', '/healthz'],
    ['readinessProbe', '/readyz'],
  ];
  for (const [name, wanted] of probes) {
    const get = c[name]?.httpGet;
    if (get?.path !== wanted) problems.push(`${name} must GET ${wanted}, gets ${get?.path}`);
    if (resolvePort(c, get?.port) !== httpPort) problems.push(`${name} port ${get?.port} is not ${httpPort}`);
  }
  const svc = one(d, 'Service');
  const deployment = one(d, 'Deployment');
  if (!svc) return [...problems, 'no Service'];
  if (!matches(svc.spec?.selector, deployment?.spec?.template?.metadata?.labels))
    problems.push("the Service's selector does not select the runner's pods");
  const sp = (svc.spec?.ports ?? [])[0];
  if (resolvePort(c, sp?.targetPort ?? sp?.port) !== httpPort)
    problems.push('the Service does not reach the HTTP port');
  const a = svc.metadata?.annotations ?? {};
  if (a['prometheus.io/scrape'] !== 'true') problems.push('the Service lacks prometheus.io/scrape: "true"');
  if (Number(a['prometheus.io/port']) !== httpPort) problems.push(`prometheus.io/port must be ${httpPort}`);
  if (a['prometheus.io/path'] !== '/metrics') problems.push('prometheus.io/path must be /metrics');
  return problems;
}

function checkConfigMapAndSecret(d: Deploy): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(configData(d))) {
    const s = BY_ENV.get(key);
    if (!s) problems.push(`ConfigMap: ${key} is not a setting of src/config/config.ts`);
    else if (s.secret) problems.push(`ConfigMap: ${key} is a secret; it belongs in the Secret`);
    else if (!s.schema.safeParse(value).success) problems.push(`ConfigMap: ${key}=${value} is not valid`);
  }
  const secret = one(d, 'Secret');
  if (!secret) problems.push('no Secret');
  for (const key of secretKeys(d)) {
    const s = BY_ENV.get(key);
    if (!s) problems.push(`Secret: ${key} is not a setting of src/config/config.ts`);
    else if (!s.secret) problems.push(`Secret: ${key} is not a secret setting (it belongs in the ConfigMap)`);
  }
  for (const s of KNOWN.filter((k) => k.secret))
    if (!secretKeys(d).includes(s.env)) problems.push(`Secret: the secret setting ${s.env} is missing`);
  return problems;
}

/** The runner's environment: SLUICE_* values are settings; secrets arrive as files through *_FILE. */
function checkRunnerEnv(d: Deploy): string[] {
  const problems: string[] = [];
  const c = container(d);
  const pod = one(d, 'Deployment')?.spec?.template?.spec;
  if (!c || !pod) return ['no Deployment with a container'];
  const cmName = one(d, 'ConfigMap')?.metadata?.name;
  const from: Obj[] = c.envFrom ?? [];
  if (!from.some((f) => f.configMapRef?.name === cmName)) problems.push('the container does not load the ConfigMap');
  if (from.some((f) => f.secretRef)) problems.push('secrets must be mounted as files, not loaded with envFrom');
  const secretVolume = (pod.volumes ?? []).find((v: Obj) => v.secret?.secretName === one(d, 'Secret')?.metadata?.name);
  const mount = (c.volumeMounts ?? []).find((m: Obj) => m.name === secretVolume?.name);
  if (!mount) problems.push('the Secret is not mounted in the container');
  const fileVars = new Set<string>();
  for (const e of (c.env ?? []) as Obj[]) {
    const name = String(e.name);
    if (!name.startsWith('SLUICE_')) continue;
    const base = name.endsWith('_FILE') ? name.slice(0, -'_FILE'.length) : undefined;
    const s = BY_ENV.get(name) ?? (base ? BY_ENV.get(base) : undefined);
    if (e.valueFrom?.secretKeyRef) problems.push(`env ${name}: secrets must be mounted as files`);
    if (!s) problems.push(`env ${name} is not a setting of src/config/config.ts`);
    else if (base && BY_ENV.has(base)) {
      if (!s.secret) problems.push(`env ${name}: only secret settings read a _FILE`);
      if (!mount || e.value !== path.posix.join(mount.mountPath, base) || !secretKeys(d).includes(base))
        problems.push(`env ${name} must be ${mount?.mountPath}/${base}, a key of the mounted Secret`);
      fileVars.add(base);
    } else if (s.secret) problems.push(`env ${name} is a secret in plain text; use ${name}_FILE`);
  }
  for (const key of secretKeys(d)) if (!fileVars.has(key)) problems.push(`Secret key ${key} has no ${key}_FILE`);
  return problems;
}

function checkRunner(d: Deploy): string[] {
  const problems: string[] = [];
  const deployment = one(d, 'Deployment');
  const c = container(d);
  if (!deployment || !c) return ['no Deployment with a container'];
  const pod = deployment.spec?.template?.spec ?? {};
  const labels = deployment.spec?.template?.metadata?.labels;
  if (c.command !== undefined) problems.push("the container must not replace the image's ENTRYPOINT (command:)");
  const args: string[] = c.args ?? [];
  const topologies = topologiesOf(args);
  if (args[0] !== 'run') problems.push(`args must start with run, are ${JSON.stringify(args)}`);
  if (topologies.length !== 1 || !TOPOLOGIES[topologies[0]])
    problems.push(`one known topology per Deployment, got ${JSON.stringify(topologies)}`);
  if (!args.includes('--no-extract'))
    problems.push('a scaled runner must not run the scheduled extract (--no-extract)');
  if (!matches(deployment.spec?.selector?.matchLabels, labels))
    problems.push("the Deployment's selector misses its pods");
  if (pod.securityContext?.runAsNonRoot !== true) problems.push('pod securityContext.runAsNonRoot must be true');
  if (pod.securityContext?.runAsUser === 0) problems.push('pod securityContext.runAsUser must not be 0');
  if (c.securityContext?.readOnlyRootFilesystem !== true) problems.push('readOnlyRootFilesystem must be true');
  if (c.securityContext?.allowPrivilegeEscalation !== false) problems.push('allowPrivilegeEscalation must be false');
  for (const r of ['requests', 'limits'])
    if (!c.resources?.[r]?.memory) problems.push(`container resources.${r}.memory is missing`);
  if (!c.resources?.requests?.cpu) problems.push('container resources.requests.cpu is missing');
  const deadline = shutdownDeadlineMs();
  if (!(Number(pod.terminationGracePeriodSeconds) * 1000 >= deadline + 10_000))
    problems.push(`terminationGracePeriodSeconds must exceed the ${deadline} ms drain deadline by 10 s or more`);
  const pdb = one(d, 'PodDisruptionBudget');
  if (!pdb) problems.push('no PodDisruptionBudget');
  else {
    if (!matches(pdb.spec?.selector?.matchLabels, labels))
      problems.push("the PodDisruptionBudget misses the runner's pods");
    if (pdb.spec?.maxUnavailable === undefined && pdb.spec?.minAvailable === undefined)
      problems.push('the PodDisruptionBudget sets neither maxUnavailable nor minAvailable');
  }
  return problems;
}

function checkScaledObject(d: Deploy, groupIdOf: (topology: string) => string): string[] {
  const problems: string[] = [];
  const so = ofKind(d, 'ScaledObject')[0];
  const deployment = one(d, 'Deployment');
  if (!so || !deployment) return ['no ScaledObject or no Deployment'];
  if (so.apiVersion !== 'keda.sh/v1alpha1') problems.push(`ScaledObject apiVersion ${so.apiVersion}`);
  const ref = so.spec?.scaleTargetRef ?? {};
  if (ref.name !== deployment.metadata?.name || (ref.kind ?? 'Deployment') !== 'Deployment')
    problems.push(`ScaledObject targets ${ref.kind ?? 'Deployment'} ${ref.name}, not ${deployment.metadata?.name}`);
  if (deployment.spec?.replicas !== undefined) problems.push('the Deployment must leave replicas to KEDA');
  const triggers: Obj[] = so.spec?.triggers ?? [];
  const t = triggers.find((x) => x.type === 'kafka')?.metadata ?? {};
  if (triggers.length !== 1 || triggers[0].type !== 'kafka') problems.push('the ScaledObject needs one kafka trigger');
  const topology = topologiesOf(container(d)?.args ?? [])[0];
  const def = TOPOLOGIES[topology];
  if (def) {
    if (t.consumerGroup !== groupIdOf(topology))
      problems.push(`consumerGroup ${t.consumerGroup} is not the runner's group ${groupIdOf(topology)}`);
    if (!def.sources.some((s) => s.topic === t.topic)) problems.push(`topic ${t.topic} is not a source of ${topology}`);
  }
  const data = configData(d);
  if (t.bootstrapServers !== data.SLUICE_KAFKA_BROKERS)
    problems.push('bootstrapServers differs from SLUICE_KAFKA_BROKERS');
  if (!/^[1-9]\d*$/.test(String(t.lagThreshold ?? ''))) problems.push('lagThreshold must be a positive integer');
  if (so.spec?.minReplicaCount !== 1) problems.push('minReplicaCount must be 1');
  const partitions = Number(data.SLUICE_TOPIC_PARTITIONS ?? (SETTINGS.topicPartitions.default as string));
  if (so.spec?.maxReplicaCount !== partitions)
    problems.push(`maxReplicaCount ${so.spec?.maxReplicaCount} must equal the source's ${partitions} partitions`);
  return problems;
}

function checkDockerfile(d: Deploy): string[] {
  const problems: string[] = [];
  const stages = stagesOf(parseDockerfile(d.dockerfile));
  if (!stages.length) return ['Dockerfile: no FROM'];
  const names = new Set(stages.map((s) => stageName(s[0].args)).filter(Boolean));
  const major = pinnedNodeMajor();
  if (major !== 24) problems.push(`package.json pins Node ${major}, expected 24`);
  for (const s of stages) {
    const image = fromImage(s[0].args);
    if (names.has(image)) continue;
    const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)(?:[-.@]|$)/.exec(image);
    if (!m || Number(m[1]) !== major) problems.push(`Dockerfile: FROM ${image} is not Node ${major}`);
  }
  const final = stages.at(-1)!;
  const last = (cmd: string) => final.filter((i) => i.cmd === cmd).at(-1);
  const user = last('USER')?.args.split(':')[0];
  if (!user || user === 'root' || user === '0') problems.push(`Dockerfile: the final stage runs as ${user ?? 'root'}`);
  const entrypoint = execForm(last('ENTRYPOINT')?.args);
  const cmd = last('CMD') ? execForm(last('CMD')?.args) : [];
  if (!entrypoint || !cmd) problems.push('Dockerfile: ENTRYPOINT and CMD must be in exec form (JSON arrays)');
  const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
  const bin = path.posix.normalize(String(PACKAGE.bin?.sluice ?? ''));
  if (!/^(\/usr\/local\/bin\/)?node$/.test(argv[0] ?? '') || path.posix.normalize(argv[1] ?? '') !== bin)
    problems.push(`Dockerfile: must start node ${bin} (the sluice bin), starts ${JSON.stringify(argv)}`);
  if (argv[2] !== 'run') problems.push(`Dockerfile: the command must be \`sluice run\`, is ${JSON.stringify(argv)}`);
  const ports = (last('EXPOSE')?.args ?? '').split(/\s+/).map((p) => Number(p.replace(/\/tcp$/, '')));
  if (!ports.includes(Number(configData(d).SLUICE_HTTP_PORT)))
    problems.push('Dockerfile: EXPOSE must name the ConfigMap SLUICE_HTTP_PORT');
  problems.push(...checkDockerContext(d, final));
  return problems;
}

/** What the runtime stage copies from the context exists, is not ignored, and covers what `sluice run` loads. */
function checkDockerContext(d: Deploy, final: Instruction[]): string[] {
  const problems: string[] = [];
  const sources = final
    .filter((i) => i.cmd === 'COPY' && !/--from=/.test(i.args))
    .flatMap((i) =>
      i.args
        .split(/\s+/)
        .filter((t) => !t.startsWith('--'))
        .slice(0, -1),
    );
  for (const src of sources) {
    if (!existsSync(path.join(ROOT, src))) problems.push(`Dockerfile: COPY ${src}: no such file`);
    if (ignored(d.dockerignore, src)) problems.push(`Dockerfile: COPY ${src} is excluded by .dockerignore`);
  }
  if (!final.some((i) => i.cmd === 'COPY' && /--from=/.test(i.args) && /node_modules/.test(i.args)))
    problems.push('Dockerfile: the final stage does not copy node_modules from the install stage');
  const bin = path.posix.normalize(String(PACKAGE.bin?.sluice ?? ''));
  for (const needed of [bin, 'package.json', 'src/cli/main.ts', 'topologies/index.ts', 'connectors', 'schemas'])
    if (!sources.some((s) => s === '.' || needed === s || needed.startsWith(`${s.replace(/\/$/, '')}/`)))
      problems.push(`Dockerfile: the final stage does not copy ${needed}`);
  for (const secret of ['.stack', '.env', 'node_modules', '.git'])
    if (!ignored(d.dockerignore, secret)) problems.push(`.dockerignore must exclude ${secret}`);
  return problems;
}

function allProblems(d: Deploy): string[] {
  return [
    ...checkYaml(d.texts),
    ...checkKustomization(d),
    ...checkHttp(d),
    ...checkConfigMapAndSecret(d),
    ...checkRunnerEnv(d),
    ...checkRunner(d),
    ...checkScaledObject(d, runnerGroupId),
    ...checkDockerfile(d),
  ];
}

// ---------------------------------------------------------------------------------------------
// Tests

test('the Dockerfile and stack/k8s are consistent with each other and with the code', () => {
  assert.deepEqual(allProblems(loadDeploy()), []);
});

test('the code facts the checks rely on are found', () => {
  assert.equal(runnerGroupId('clickstream'), 'sluice-clickstream');
  assert.ok(shutdownDeadlineMs() > 0, 'the shutdown deadline in src/runner/runnerProcess.ts');
  assert.equal(pinnedNodeMajor(), 24);
});

/** Breaks a copy of the files with `mutate`, and expects `check` to report a problem matching `expected`. */
function breaks(check: (d: Deploy) => string[], mutate: (d: Deploy) => void, expected: RegExp): void {
  const d = clone(loadDeploy());
  mutate(d);
  const problems = check(d);
  assert.ok(
    problems.some((p) => expected.test(p)),
    `expected a problem matching ${expected}, got ${JSON.stringify(problems)}`,
  );
}

const dep = (d: Deploy): Obj => one(d, 'Deployment')!;
const so = (d: Deploy): Obj => one(d, 'ScaledObject')!;

test('a YAML file that does not parse, or a document without kind, is reported', () => {
  breaks(
    (d) => checkYaml(d.texts),
    (d) => (d.texts['configmap.yaml'] += '\n  bad: [unclosed\n'),
    /configmap/,
  );
  breaks(
    (d) => checkYaml(d.texts),
    (d) => (d.texts['extra.yaml'] = 'apiVersion: v1\n'),
    /no apiVersion or kind/,
  );
});

test('a file missing from the kustomization, or a listed file that is gone, is reported', () => {
  const k = (d: Deploy) => d.docs[KUSTOMIZATION][0];
  breaks(checkKustomization, (d) => (d.texts['new.yaml'] = 'kind: ConfigMap'), /new\.yaml is not in resources/);
  breaks(checkKustomization, (d) => k(d).resources.push('gone.yaml'), /gone\.yaml is not in the folder/);
  breaks(checkKustomization, (d) => (k(d).namespace = 'prod'), /namespace/);
});

test('probes on other paths or ports, or a port that differs from SLUICE_HTTP_PORT, are reported', () => {
  breaks(checkHttp, (d) => (container(d)!.livenessProbe.httpGet.path = '/readyz'), /livenessProbe must GET \/healthz/);
  breaks(checkHttp, (d) => (container(d)!.readinessProbe.httpGet.path = '/healthz'), /readinessProbe must GET/);
  breaks(checkHttp, (d) => (container(d)!.readinessProbe.httpGet.port = 9090), /readinessProbe port/);
  breaks(checkHttp, (d) => (container(d)!.ports[0].containerPort = 9090), /container port/);
  breaks(checkHttp, (d) => (configData(d).SLUICE_HTTP_PORT = '9090'), /SLUICE_HTTP_PORT/);
  breaks(checkHttp, (d) => (configData(d).SLUICE_HTTP_HOST = '127.0.0.1'), /0\.0\.0\.0/);
  breaks(checkHttp, (d) => (one(d, 'Service')!.metadata.annotations['prometheus.io/port'] = '9090'), /prometheus/);
  breaks(checkHttp, (d) => (one(d, 'Service')!.spec.selector = { app: 'other' }), /selector/);
});

test('unknown settings, and secrets outside the Secret, are reported', () => {
  const check = checkConfigMapAndSecret;
  breaks(check, (d) => (configData(d).SLUICE_NO_SUCH = 'x'), /SLUICE_NO_SUCH is not a setting/);
  breaks(check, (d) => (configData(d).SLUICE_PG_PASSWORD = 'x'), /SLUICE_PG_PASSWORD is a secret/);
  breaks(check, (d) => (configData(d).SLUICE_PROCESSING_GUARANTEE = 'maybe'), /not valid/);
  breaks(check, (d) => (one(d, 'Secret')!.stringData.SLUICE_PG_HOST = 'x'), /SLUICE_PG_HOST is not a secret/);
  breaks(check, (d) => (one(d, 'Secret')!.stringData.SLUICE_NOPE = 'x'), /SLUICE_NOPE is not a setting/);
  breaks(check, (d) => delete one(d, 'Secret')!.stringData.SLUICE_FEED_TOKEN, /SLUICE_FEED_TOKEN is missing/);
});

test('a secret in plain environment, or a _FILE that points outside the mounted Secret, is reported', () => {
  const env = (d: Deploy): Obj[] => container(d)!.env;
  breaks(checkRunnerEnv, (d) => env(d).push({ name: 'SLUICE_PG_PASSWORD', value: 'x' }), /plain text/);
  breaks(checkRunnerEnv, (d) => (env(d).find((e) => e.name.endsWith('_FILE'))!.value = '/tmp/x'), /must be/);
  breaks(checkRunnerEnv, (d) => env(d).push({ name: 'SLUICE_PG_HOST_FILE', value: '/x' }), /only secret settings/);
  breaks(checkRunnerEnv, (d) => env(d).push({ name: 'SLUICE_BOGUS', value: 'x' }), /not a setting/);
  breaks(
    checkRunnerEnv,
    (d) => (container(d)!.env = env(d).filter((e) => !/_PG_PASSWORD/.test(e.name))),
    /PG_PASSWORD_FILE/,
  );
  breaks(checkRunnerEnv, (d) => container(d)!.envFrom.push({ secretRef: { name: 's' } }), /envFrom/);
  breaks(checkRunnerEnv, (d) => (container(d)!.volumeMounts = []), /not mounted/);
});

test('a runner that is not one topology, not hardened, or stopped before its drain, is reported', () => {
  const pod = (d: Deploy): Obj => dep(d).spec.template.spec;
  breaks(checkRunner, (d) => (container(d)!.args = ['run', '-t', 'clickstream', 'metrics']), /one known topology/);
  breaks(checkRunner, (d) => (container(d)!.args = ['run']), /one known topology/);
  breaks(checkRunner, (d) => (container(d)!.command = ['sh']), /ENTRYPOINT/);
  breaks(checkRunner, (d) => (container(d)!.args = ['run', '-t', 'clickstream']), /--no-extract/);
  breaks(checkRunner, (d) => (pod(d).securityContext.runAsNonRoot = false), /runAsNonRoot/);
  breaks(checkRunner, (d) => (container(d)!.securityContext.readOnlyRootFilesystem = false), /readOnlyRootFilesystem/);
  breaks(checkRunner, (d) => delete container(d)!.resources.limits, /limits\.memory/);
  breaks(checkRunner, (d) => (pod(d).terminationGracePeriodSeconds = 30), /terminationGracePeriodSeconds/);
  breaks(checkRunner, (d) => (one(d, 'PodDisruptionBudget')!.spec.selector.matchLabels = { a: 'b' }), /Disruption/);
});

test('a ScaledObject aimed at another Deployment, group, topic or replica range is reported', () => {
  const trigger = (d: Deploy): Obj => so(d).spec.triggers[0].metadata;
  const check = (d: Deploy) => checkScaledObject(d, runnerGroupId);
  breaks(check, (d) => (so(d).spec.scaleTargetRef.name = 'other'), /targets Deployment other/);
  breaks(check, (d) => (trigger(d).consumerGroup = 'clickstream'), /not the runner's group/);
  breaks(check, (d) => (trigger(d).topic = 'silver.clickstream'), /not a source/);
  breaks(check, (d) => (trigger(d).bootstrapServers = 'elsewhere:9092'), /bootstrapServers/);
  breaks(check, (d) => (trigger(d).lagThreshold = '0'), /lagThreshold/);
  breaks(check, (d) => (so(d).spec.minReplicaCount = 0), /minReplicaCount/);
  breaks(check, (d) => (so(d).spec.maxReplicaCount += 1), /maxReplicaCount/);
  breaks(check, (d) => (configData(d).SLUICE_TOPIC_PARTITIONS = '12'), /maxReplicaCount/);
  breaks(check, (d) => (dep(d).spec.replicas = 2), /replicas to KEDA/);
  // The group id is the code's: a runner deriving another one would no longer match the manifest.
  breaks(
    (d) => checkScaledObject(d, (t) => `sluice-v2-${t}`),
    () => {},
    /not the runner's group sluice-v2-/,
  );
});

test('a Dockerfile running as root, in shell form, on another Node or not `sluice run` is reported', () => {
  const edit = (from: RegExp, to: string) => (d: Deploy) => {
    assert.match(d.dockerfile, from);
    d.dockerfile = d.dockerfile.replace(from, to);
  };
  breaks(checkDockerfile, edit(/^USER .*$/m, 'USER root'), /runs as root/);
  breaks(checkDockerfile, edit(/^USER .*$/m, 'USER 0:0'), /runs as 0/);
  breaks(checkDockerfile, edit(/^USER .*$/m, ''), /runs as root/);
  breaks(checkDockerfile, edit(/^CMD .*$/m, 'CMD run'), /exec form/);
  breaks(checkDockerfile, edit(/^ENTRYPOINT .*$/m, 'ENTRYPOINT node bin/sluice.js'), /exec form/);
  breaks(checkDockerfile, edit(/^CMD .*$/m, 'CMD ["demo"]'), /sluice run/);
  breaks(checkDockerfile, edit(/^ENTRYPOINT .*$/m, 'ENTRYPOINT ["npx", "sluice"]'), /must start node/);
  breaks(checkDockerfile, edit(/node:24-slim AS runtime/, 'node:22-slim AS runtime'), /not Node 24/);
  breaks(checkDockerfile, edit(/^EXPOSE .*$/m, 'EXPOSE 9090'), /EXPOSE/);
  breaks(checkDockerfile, edit(/^COPY schemas .*$/m, ''), /does not copy schemas/);
  breaks(checkDockerfile, (d) => (d.dockerignore += '\nsrc\n'), /COPY src is excluded/);
  breaks(checkDockerfile, (d) => (d.dockerignore = d.dockerignore.replace(/^\.stack$/m, '')), /exclude \.stack/);
});
