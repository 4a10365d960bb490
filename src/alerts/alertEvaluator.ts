import type { Config } from '../config/config.ts';
import { errorCode, isSluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { createKafkaClient, type KafkaClient } from '../kafka/createKafkaClient.ts';
import { severityOf } from './alertRules.ts';
import { localHttpBase } from './localHttpBase.ts';
import type { AlertRuleName, Incident } from './incident.ts';
import {
  ensureIncidentsTopic,
  type IncidentRecord,
  type IncidentWriter,
  openIncidentWriter,
  readIncidents,
} from './incidentStore.ts';
import { createIncidentTracker, type IncidentChange, type IncidentTracker } from './incidentTracker.ts';
import type { Observation, SignalSource } from './observation.ts';
import { createWebhookSender, type WebhookSender, type WebhookSenderOptions } from './webhookSender.ts';

export interface AlertEvaluatorOptions {
  /** The signals to evaluate (see `defaultSignalSources`). */
  sources: readonly SignalSource[];
  kafka?: KafkaClient;
  /** Default SLUICE_ALERTS_INTERVAL_MS. */
  intervalMs?: number;
  /** Default SLUICE_INCIDENTS_TOPIC. */
  topic?: string;
  /** Default SLUICE_ALERT_DASHBOARD_URL, else the runner's address. */
  dashboardUrl?: string;
  /** Default SLUICE_ALERT_WEBHOOKS and its timeout, attempts and queue settings. */
  webhooks?: WebhookSenderOptions & { targets?: Config['alertWebhooks'] };
  /** Longest one source may take (default: the interval, at least 30 s). */
  sourceTimeoutMs?: number;
  /** The first evaluation after this long (default 0: at once), e.g. to let runners started alongside come up. */
  startDelayMs?: number;
  /** Evaluate every interval (default); false: only on `evaluateNow` (`sluice alerts --once`). */
  loop?: boolean;
  /** Called after each evaluation with what changed (tests wait on it). */
  onEvaluated?: (changes: IncidentChange[]) => void;
}

export interface AlertEvaluator {
  /** Every incident as written to the topic (committed), open first. */
  incidents(): Incident[];
  /** One evaluation now (the loop's are never concurrent with it). */
  evaluateNow(): Promise<IncidentChange[]>;
  webhooks: WebhookSender;
  /** Resolves with an exit code: 0 after `stop`, 1 when fenced by another evaluator. */
  done: Promise<number>;
  stop(): Promise<void>;
}

const log = createLogger('alerts');

/** The dashboard address incidents link to: the setting, else the local runner's. */
export function dashboardUrlOf(cfg: Config): string {
  return cfg.alertDashboardUrl || `${localHttpBase(cfg)}/`;
}

/** Observations still being measured, per source: a source slower than the interval is not asked twice at once. */
const inFlight = new WeakMap<SignalSource, Promise<unknown>>();

/** How long `stop` waits for an evaluation in progress (a write to a broker that is down retries on). */
const STOP_WAIT_MS = 10_000;

/**
 * Every source measured at once, each within `timeoutMs`: the observations of those that answered
 * (in the sources' order) and the rules they decide. A source that fails, times out or is still
 * busy from an earlier evaluation is logged (`SLUICE_ERR_ALERT_SIGNAL_FAILED`) and decides nothing:
 * its incidents stay as they are.
 */
export async function observeSources(
  sources: readonly SignalSource[],
  timeoutMs: number,
  stopping: AbortSignal,
): Promise<{ observations: Observation[]; decided: Set<AlertRuleName> }> {
  const answers = await Promise.all(
    sources.map(async (source) => {
      const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping]);
      const aborted = new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs} ms`)), { once: true }),
      );
      aborted.catch(() => {});
      if (inFlight.has(source)) {
        log.warn(
          { code: errorCode('ALERT_SIGNAL_FAILED'), source: source.name },
          'alert signal still measuring from an earlier evaluation; skipped this time',
        );
        return undefined;
      }
      const observing = source.observe(signal);
      inFlight.set(source, observing);
      void observing.then(
        () => inFlight.delete(source),
        () => inFlight.delete(source),
      );
      try {
        return await Promise.race([observing, aborted]);
      } catch (err) {
        if (!stopping.aborted)
          log.warn(
            { code: errorCode('ALERT_SIGNAL_FAILED'), source: source.name, err: (err as Error).message ?? String(err) },
            'alert signal not measured; its incidents stay as they are',
          );
        return undefined;
      }
    }),
  );
  const decided = new Set<AlertRuleName>();
  sources.forEach((s, i) => {
    if (answers[i]) for (const rule of s.rules) decided.add(rule);
  });
  return { observations: answers.flatMap((a) => a ?? []), decided };
}

/**
 * The alert evaluator (`sluice alerts`): restores the incidents from the topic, then every interval
 * measures every signal source, moves the incident state machine (`incidentTracker.ts`) and writes
 * what changed to the incidents topic in one transaction before POSTing it to the webhooks. One
 * evaluator per cluster: its transactional id fences an older one, which stops with
 * `SLUICE_ERR_ALERT_EVALUATOR_FENCED`. A source that fails (`SLUICE_ERR_ALERT_SIGNAL_FAILED`) leaves
 * its incidents as they are; a write that fails (`SLUICE_ERR_INCIDENT_WRITE_FAILED`) is evaluated
 * again at the next tick. Nothing here stops a runner: the evaluator only reads what they expose.
 *
 * @example
 *   const evaluator = await startAlertEvaluator(cfg, { sources: defaultSignalSources(cfg, kafka, topologies) });
 *   // on shutdown:
 *   await evaluator.stop();
 */
export async function startAlertEvaluator(cfg: Config, opts: AlertEvaluatorOptions): Promise<AlertEvaluator> {
  const kafka = opts.kafka ?? createKafkaClient(cfg, `${cfg.kafkaClientId}-alerts`, { quiet: true });
  const topic = opts.topic ?? cfg.incidentsTopic;
  await ensureIncidentsTopic(kafka, cfg, topic);
  // The writer first: its fence makes every earlier evaluator's last transaction final before the read.
  const writer = await openIncidentWriter(kafka, topic);
  const restored = await readIncidents(kafka, topic).catch(async (err) => {
    await writer.close();
    throw err;
  });
  const webhooks = createWebhookSender(opts.webhooks?.targets ?? cfg.alertWebhooks, {
    timeoutMs: cfg.alertWebhookTimeoutMs,
    attempts: cfg.alertWebhookAttempts,
    queueSize: cfg.alertWebhookQueue,
    ...opts.webhooks,
  });
  const evaluator = new Evaluator(cfg, opts, { topic, writer, webhooks, restored: [...restored.values()] });
  log.info(
    {
      topic,
      open: [...restored.values()].filter((i) => i.status === 'open').length,
      sources: opts.sources.map((s) => s.name),
      webhooks: webhooks.stats().length,
      intervalMs: evaluator.intervalMs,
    },
    'alert evaluator started',
  );
  if (opts.loop !== false) evaluator.plan(opts.startDelayMs ?? 0);
  return {
    incidents: () => evaluator.committed,
    evaluateNow: () => evaluator.serial(() => evaluator.evaluate()),
    webhooks,
    done: evaluator.done,
    stop: () => evaluator.stop(),
  };
}

/** The evaluator's state and its loop: one evaluation at a time. */
class Evaluator {
  readonly intervalMs: number;
  readonly done: Promise<number>;
  tracker: IncidentTracker;
  /** The tracker's list as of the last committed write: what the topic holds. */
  committed: Incident[];
  readonly #cfg: Config;
  readonly #opts: AlertEvaluatorOptions;
  readonly #io: { topic: string; writer: IncidentWriter; webhooks: WebhookSender };
  readonly #dashboardUrl: string;
  readonly #sourceTimeoutMs: number;
  readonly #stopping = new AbortController();
  #finish: (code: number) => void = () => {};
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #fenced = false;
  #stopped: Promise<void> | undefined;

  constructor(
    cfg: Config,
    opts: AlertEvaluatorOptions,
    io: { topic: string; writer: IncidentWriter; webhooks: WebhookSender; restored: Incident[] },
  ) {
    this.#cfg = cfg;
    this.#opts = opts;
    this.#io = io;
    this.intervalMs = opts.intervalMs ?? cfg.alertsIntervalMs;
    this.#sourceTimeoutMs = opts.sourceTimeoutMs ?? Math.max(this.intervalMs, 30_000);
    this.#dashboardUrl = opts.dashboardUrl ?? dashboardUrlOf(cfg);
    this.tracker = this.#newTracker(io.restored);
    this.committed = this.tracker.list();
    this.done = new Promise<number>((r) => {
      this.#finish = r;
    });
  }

  #newTracker(from: Iterable<Incident>): IncidentTracker {
    return createIncidentTracker({ restored: from, dashboardUrl: this.#dashboardUrl, severityOf });
  }

  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn);
    this.#chain = next.catch(() => {});
    return next;
  }

  plan(delayMs: number): void {
    if (this.#stopping.signal.aborted) return;
    this.#timer = setTimeout(() => {
      void this.serial(() => this.evaluate())
        .catch((err) => log.error({ code: errorCode('INTERNAL'), err: String(err) }, 'alert evaluation failed'))
        .finally(() => this.plan(this.intervalMs));
    }, delayMs);
  }

  async evaluate(): Promise<IncidentChange[]> {
    if (this.#fenced || this.#stopping.signal.aborted) return [];
    const { observations, decided } = await observeSources(
      this.#opts.sources,
      this.#sourceTimeoutMs,
      this.#stopping.signal,
    );
    if (this.#stopping.signal.aborted) return [];
    const before = this.tracker.list();
    const at = new Date();
    const changes = this.tracker.apply(observations, decided, at);
    const forgotten = this.tracker.forgetResolvedBefore(new Date(at.getTime() - this.#cfg.incidentsKeepResolvedMs));
    const records: IncidentRecord[] = [
      ...changes.map((c) => ({ key: c.incident.key, incident: c.incident })),
      ...forgotten.map((key) => ({ key, incident: null })),
    ];
    try {
      await this.#io.writer.write(records);
    } catch (err) {
      this.tracker = this.#newTracker(before); // what the topic holds; the next evaluation tries again
      this.#writeFailed(err);
      return [];
    }
    this.committed = this.tracker.list();
    for (const c of changes) {
      const { key, id, severity, summary } = c.incident;
      log.info({ incident: key, id, severity, event: c.kind, summary }, `incident ${c.kind}`);
      this.#io.webhooks.send(c);
    }
    this.#opts.onEvaluated?.(changes);
    return changes;
  }

  #writeFailed(err: unknown): void {
    if (isSluiceError(err, 'ALERT_EVALUATOR_FENCED')) {
      this.#fenced = true;
      log.error({ code: err.code, topic: this.#io.topic }, 'another alert evaluator took over; stopping');
      void this.stop().then(() => this.#finish(1));
      return;
    }
    log.warn(
      { code: isSluiceError(err) ? err.code : errorCode('INCIDENT_WRITE_FAILED'), err: (err as Error).message },
      'incidents not written; evaluated again at the next tick',
    );
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping.abort();
      clearTimeout(this.#timer);
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([this.#chain, new Promise((r) => (waited = setTimeout(r, STOP_WAIT_MS)))]);
      clearTimeout(waited);
      await this.#io.webhooks.idle(2_000);
      await this.#io.webhooks.close();
      await this.#io.writer.close();
      if (!this.#fenced) this.#finish(0);
    })();
    return this.#stopped;
  }
}
