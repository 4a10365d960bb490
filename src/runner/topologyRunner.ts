import type { Config } from '../config/config.ts';
import { SluiceError, asSluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { loadSchema, loadType } from '../domain/schemas.ts';
import { ensureTopics, type TopicSpec } from '../kafka/ensureTopics.ts';
import { isTransientKafkaError } from '../kafka/isTransientKafkaError.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import type { Consumer, EachBatchPayload, Producer } from '../kafka/kafkaTypes.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { RegistryClient } from '../serde/schemaRegistry.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import type { Output, SinkConnector, SinkRecordError, TopologyDefinition } from '../topology/types.ts';
import { dlqHeaders, withoutErrorHeaders } from '../engine/dlqHeaders.ts';
import { createAck } from '../engine/ack.ts';
import type { ConnectorStats, EngineMetrics } from '../engine/engineMetrics.ts';
import { OffsetTracker } from '../engine/offsetTracker.ts';
import { createOutputSink, type OutputSink } from './outputSink.ts';
import { startReferenceReader, type ReferenceReader } from './referenceReader.ts';
import { readToEnd } from '../kafka/readRange.ts';
import { MapReferenceTable } from '../engine/referenceTable.ts';
import { startTopology, type TopologyInstance } from '../engine/topologyInstance.ts';
import { createTransactionalOutputs, txKeyOf, type TransactionalOutputs } from './transactionalOutputs.ts';

/**
 * Runs one topology against Kafka: one consumer group (`sluice-<topology>`), order kept within
 * each partition, offsets committed only up to records whose outputs are all durable, partitions
 * paused while too much is in flight. A consumer that crashes without kafkajs restarting it is
 * reported through `onFatal`, so the process never looks healthy while consuming nothing.
 */
export interface RunnerOptions {
  /** Pause a partition at this many records in flight; resume at half. */
  maxInFlightPerPartition?: number;
  commitIntervalMs?: number;
  /** A partition with lag and no progress for this long makes the runner not ready. */
  stallMs?: number;
  groupId?: string;
}

export interface RunnerStatus {
  topology: string;
  running: boolean;
  assigned: number;
  paused: number;
  inFlight: number;
  lag: number;
  lastProgressAt: number;
  ready: boolean;
}

const log = createLogger('runner');

export class TopologyRunner {
  readonly def: TopologyDefinition;
  private readonly cfg: Config;
  private readonly kafka: KafkaClient;
  private readonly registry: RegistryClient;
  private readonly serde: AvroSerde;
  private readonly metrics: EngineMetrics;
  private readonly onFatal: (err: unknown) => void;
  private readonly opts: Required<RunnerOptions>;
  private consumer?: Consumer;
  private producer?: Producer;
  private sink?: OutputSink;
  private instance?: TopologyInstance;
  private readonly trackers = new Map<string, OffsetTracker>();
  private readonly paused = new Set<string>();
  private readonly lag = new Map<string, number>();
  private readonly readers: ReferenceReader[] = [];
  private readonly sinks = new Map<string, SinkConnector>();
  private commitTimer?: NodeJS.Timeout;
  private committing: Promise<void> = Promise.resolve();
  private running = false;
  private stopping = false;
  /** A fatal error was reported: nothing in flight will complete, so stop() does not wait for it. */
  private failed = false;
  private lastProgressAt = Date.now();
  private assignment: Record<string, number[]> = {};
  private seeking: Promise<void> = Promise.resolve();
  private tickTimer?: NodeJS.Timeout;
  /** State stores are being rebuilt from their changelogs: no tick may look at them. */
  private restoring = false;
  /** Exactly-once: the per-partition transactions (absent under at-least-once). */
  private tx?: TransactionalOutputs;
  /** Exactly-once: the input partition whose batch is being pushed (its transaction takes the outputs). */
  private batchKey?: string;
  private txFailures = 0;
  private txFailingSince = 0;
  /** Bumped by every assignment and rewind: a batch begun before it must not commit after it. */
  private epoch = 0;

  constructor(args: {
    cfg: Config;
    def: TopologyDefinition;
    kafka: KafkaClient;
    registry: RegistryClient;
    serde: AvroSerde;
    metrics: EngineMetrics;
    onFatal: (err: unknown) => void;
    options?: RunnerOptions;
  }) {
    this.cfg = args.cfg;
    this.def = args.def;
    this.kafka = args.kafka;
    this.registry = args.registry;
    this.serde = args.serde;
    this.metrics = args.metrics;
    this.onFatal = args.onFatal;
    this.opts = {
      maxInFlightPerPartition: args.options?.maxInFlightPerPartition ?? 10_000,
      commitIntervalMs: args.options?.commitIntervalMs ?? 1000,
      stallMs: args.options?.stallMs ?? 30_000,
      groupId: args.options?.groupId ?? `sluice-${args.def.name}`,
    };
  }

  /** Topics this topology needs: sources, outputs, DLQs (created if missing, checked if present). */
  topicSpecs(): TopicSpec[] {
    const specs: TopicSpec[] = [];
    for (const s of this.def.sources) specs.push({ topic: s.topic }, { topic: dlqTopicOf(s) });
    for (const o of this.def.outputs) if (!o.sink) specs.push({ topic: o.topic, compacted: o.compacted });
    for (const r of Object.values(this.def.references ?? {})) specs.push({ topic: r.topic });
    // A topic can play several parts (a DLQ that another source reads): declare it once.
    return [...new Map(specs.map((s) => [s.topic, s])).values()];
  }

  private tp(topic: string, partition: number): string {
    return `${topic}/${partition}`;
  }

  private tracker(topic: string, partition: number): OffsetTracker {
    const key = this.tp(topic, partition);
    let t = this.trackers.get(key);
    if (!t) {
      t = new OffsetTracker();
      this.trackers.set(key, t);
    }
    return t;
  }

  async start(): Promise<void> {
    const { def, cfg } = this;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const created = await ensureTopics(admin, this.topicSpecs(), {
        partitions: cfg.topicPartitions,
        replicationFactor: cfg.topicReplication,
      });
      if (created.length) log.info({ topology: def.name, created }, 'created topics');
    } finally {
      await admin.disconnect();
    }

    // Register the schemas the topology reads and writes (TopicNameStrategy subjects).
    const schemaIds = new Map<string, number>();
    for (const name of new Set([...def.sources.map((s) => s.schema ?? s.topic), ...def.outputs.map((o) => o.schema)])) {
      schemaIds.set(name, await this.registry.register(`${name}-value`, loadSchema(name)));
    }
    await this.serde.prepareIds(schemaIds.values());

    const tables: Record<string, MapReferenceTable> = {};
    for (const [name, spec] of Object.entries(def.references ?? {})) {
      tables[name] = new MapReferenceTable();
      const reader = await startReferenceReader(cfg, this.kafka, this.serde, spec, tables[name], (err) =>
        this.fail(err),
      );
      this.readers.push(reader);
      await reader.ready;
      log.info({ topology: def.name, table: name, rows: tables[name].size }, 'reference table ready');
    }

    this.producer = this.kafka.producer();
    await this.producer.connect();
    this.sink = createOutputSink({
      producer: this.producer,
      serde: this.serde,
      schemaIds,
      onDurable: (o: Output) => this.countDurable(o),
      onFatal: (err) => this.fail(err),
    });
    // Exactly-once covers Kafka outputs. A topology writing to S3 or the warehouse keeps
    // commit-after-durable: those sinks have their own exactly-once effect (deterministic object
    // names; offsets stored with the rows), and a Kafka transaction cannot wait for an S3 object.
    if (cfg.processingGuarantee === 'exactly_once' && !def.outputs.some((o) => o.sink)) {
      this.tx = createTransactionalOutputs({
        kafka: this.kafka,
        groupId: this.opts.groupId,
        serde: this.serde,
        schemaIds,
        onDurable: (o) => this.countDurable(o),
      });
    }
    for (const o of def.outputs) {
      if (!o.sink) continue;
      const connector = o.sink({
        topology: def.name,
        schemaIds,
        schemaFor: (name) => loadType(name),
        config: this.cfg,
        deadLetter: (out, e) => this.sinkDeadLetter(out, e),
      });
      await connector.connect();
      this.sinks.set(o.topic, connector);
      const withStats = connector as SinkConnector & { stats?: ConnectorStats };
      this.metrics.registerConnector(`${def.name}/${connector.name}`, () => withStats.stats);
    }
    this.instance = startTopology(def, {
      serde: this.serde,
      tables,
      now: Date.now,
      route: (o) => this.route(o),
      onFatal: (err) => this.fail(err),
      onRuleFailure: (rule) => this.metrics.ruleFailures.inc({ topology: def.name, rule }),
      onLate: (store) => this.metrics.recordsLate.inc({ topology: def.name, store }),
      onWindowsOpen: (store, open) => this.metrics.windowOpen.set({ topology: def.name, store }, open),
      onEmitDelay: (store, seconds) => this.metrics.windowEmitDelay.observe({ topology: def.name, store }, seconds),
    });
    await this.ensureStoreTopics();

    const consumer = this.kafka.consumer({ groupId: this.opts.groupId });
    this.consumer = consumer;
    const { CRASH, GROUP_JOIN, REBALANCING } = consumer.events;
    consumer.on(CRASH, (e) => {
      const restart = (e.payload as { restart?: boolean }).restart;
      const fields = {
        code: 'SLUICE_ERR_KAFKA_CONSUMER_CRASHED',
        topology: def.name,
        restart,
        err: String(e.payload.error?.message ?? e.payload.error),
      };
      // A restart after a transient broker error (a coordinator still loading on a fresh broker) is recovery, not an error.
      if (restart && isTransientKafkaError(e.payload.error)) log.warn(fields, 'consumer crashed; kafkajs restarts it');
      else log.error(fields, 'consumer crashed');
      if (restart) {
        this.metrics.consumerRestarts.inc({ topology: def.name });
        this.resetTracking();
      } else if (!this.stopping)
        this.fail(
          new SluiceError(
            'KAFKA_CONSUMER_CRASHED',
            `consumer of ${def.name} crashed and will not restart: ${e.payload.error?.message}`,
          ),
        );
    });
    consumer.on(REBALANCING, () => {
      void this.commit();
    });
    consumer.on(GROUP_JOIN, (e) => {
      // Records fetched under the old assignment are re-fetched from the committed offsets.
      this.resetTracking();
      this.assignment = e.payload.memberAssignment as Record<string, number[]>;
      log.info({ topology: def.name, assignment: e.payload.memberAssignment }, 'partitions assigned');
      // Batches wait for the seek and the state restore (see onBatch); the timer's ticks wait too
      // (a tick half-way through a changelog would close windows from an old version of them).
      this.restoring = true;
      this.epoch++;
      this.tx?.discard();
      this.seeking = (
        this.tx
          ? this.resumeTransactional(this.assignment)
          : Promise.all([this.seekToSinkOffsets(this.assignment), this.restoreStores(this.assignment)])
      ).then(
        () => {
          this.restoring = false;
        },
        (err) => this.fail(err),
      );
    });
    await consumer.connect();
    await consumer.subscribe({ topics: def.sources.map((s) => s.topic), fromBeginning: true });
    this.running = true;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.commitTimer = setInterval(() => {
      void this.commit();
    }, this.opts.commitIntervalMs);
    // Windows need time to pass even when no record arrives (idle watermark, provisional results).
    if (this.instance.stores().length) this.tickTimer = setInterval(() => this.tick(), 200);
    log.info(
      {
        topology: def.name,
        group: this.opts.groupId,
        sources: def.sources.map((s) => s.topic),
        guarantee: this.tx ? 'exactly_once' : 'at_least_once',
      },
      'topology running',
    );
  }

  private countDurable(o: Output): void {
    if (o.raw && o.headers?.['sluice.error.reason']) {
      this.metrics.recordsDlq.inc({
        topology: this.def.name,
        topic: o.headers['sluice.error.topic'],
        reason: o.headers['sluice.error.reason'],
      });
    } else this.metrics.recordsOut.inc({ topology: this.def.name, topic: o.topic });
  }

  /** Where an output goes: its sink connector, the partition's transaction, or the producer. */
  private route(o: Output): void {
    const connector = this.sinks.get(o.topic);
    if (connector) connector.add(o);
    else if (this.tx)
      this.tx.add(
        o,
        o.txn ?? this.batchKey ?? (o.source ? txKeyOf(o.source.topic, o.source.partition) : `${this.def.name}.state`),
      );
    else this.sink!.add(o);
  }

  /**
   * Exactly-once, on every assignment and after a failed transaction: fence the previous owner of
   * each partition (initialise its transactional id), only then read the committed offsets and
   * seek there, and rebuild the state from the committed changelogs. Whatever was buffered for a
   * transaction is dropped: it is derived again from the re-delivered records.
   */
  private async resumeTransactional(assignment: Record<string, number[]>): Promise<void> {
    const tx = this.tx!;
    const owned = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => txKeyOf(t, p))));
    await tx.retain(owned);
    await tx.fence(owned);
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const { topic, partitions } of await retryKafka(
        () => admin.fetchOffsets({ groupId: this.opts.groupId, topics: Object.keys(assignment) }),
        'the committed offsets',
      )) {
        for (const { partition, offset } of partitions) {
          if (assignment[topic]?.includes(partition) && offset !== '-1')
            this.consumer!.seek({ topic, partition, offset });
        }
      }
    } finally {
      await admin.disconnect();
    }
    await this.restoreStores(assignment);
  }

  /** A transaction failed (broker restart, fenced): start again from what is committed. */
  private rewind(err: unknown): void {
    if (this.stopping) return;
    // Broker restarts and leader moves pass; two minutes of nothing but failures do not.
    if (this.txFailures++ === 0) this.txFailingSince = Date.now();
    if (Date.now() - this.txFailingSince > 120_000) {
      this.fail(
        new SluiceError(
          'KAFKA_PRODUCE_FAILED',
          `exactly-once transactions of ${this.def.name} failed for two minutes: ${(err as Error).message}`,
          { cause: err },
        ),
      );
      return;
    }
    log.warn(
      {
        code: 'SLUICE_ERR_KAFKA_TRANSIENT',
        topology: this.def.name,
        err: (err as Error).message,
        failures: this.txFailures,
      },
      'transaction failed; resuming from the committed offsets and state',
    );
    this.resetTracking();
    this.restoring = true;
    this.epoch++;
    this.tx!.discard();
    const previous = this.seeking;
    this.seeking = previous
      .then(() => new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(this.txFailures, 6)))))
      .then(() => this.resumeTransactional(this.assignment))
      .then(
        () => {
          this.restoring = false;
        },
        (e) => this.fail(e),
      );
  }

  /**
   * Exactly-once sinks keep their own offsets; resume each assigned partition from there. When
   * several sinks are fed by one topic, the lowest stored offset wins: a sink that is ahead
   * drops what it already has, one that is behind must not miss rows.
   */
  private async seekToSinkOffsets(assignment: Record<string, number[]>): Promise<void> {
    const withOffsets = [...this.sinks.values()].filter((s) => s.storedOffsets);
    if (!withOffsets.length || !this.consumer) return;
    for (const [topic, partitions] of Object.entries(assignment)) {
      const stored = await Promise.all(withOffsets.map((s) => s.storedOffsets!(topic)));
      for (const p of partitions) {
        const offsets = stored.map((m) => m.get(p));
        // A sink that has never seen this partition has no say: it starts where the group is.
        const known = offsets.filter((o): o is string => o !== undefined);
        if (known.length < offsets.length || !known.length) continue;
        const lowest = known.reduce((a, b) => (BigInt(a) < BigInt(b) ? a : b));
        this.consumer.seek({ topic, partition: p, offset: lowest });
      }
    }
  }

  /**
   * A record a sink can never take: its source record goes to `<source>.dlq` (reason `sink`) and
   * the dead letter takes over the output's acks, so the input commits once the DLQ record is
   * durable; the rest of the sink's batch is the sink's business. SLUICE_SINK_ERRORS=fail stops.
   */
  private sinkDeadLetter(output: Output, e: SinkRecordError): void {
    const src = output.source;
    const where = src ? `${src.topic}/${src.partition}@${src.offset}` : output.topic;
    const err = new SluiceError(
      'SINK_RECORD_REJECTED',
      `${e.sink} cannot store the record from ${where}: ${e.message}`,
      {
        coordinates: src ? { topic: src.topic, partition: src.partition, offset: src.offset } : undefined,
        details: { sink: e.sink, code: e.code },
      },
    );
    if (!src || this.cfg.sinkErrors === 'fail') {
      for (const a of output.acks) a.fail(err);
      return;
    }
    log.warn(
      {
        code: err.code,
        topology: this.def.name,
        sink: e.sink,
        sqlstate: e.code,
        coordinates: err.coordinates,
        err: e.message,
      },
      'record dead-lettered by its sink',
    );
    const spec = this.def.sources.find((s) => s.topic === src.topic) ?? { topic: src.topic };
    this.sink!.add({
      topic: dlqTopicOf(spec),
      key: src.key,
      value: src.value,
      raw: true,
      headers: {
        ...withoutErrorHeaders(src.headers),
        ...dlqHeaders({
          source: src,
          topology: this.def.name,
          reason: 'sink',
          message: `${e.sink}: ${e.code ? `${e.code} ` : ''}${e.message}`,
          now: Date.now(),
        }),
        'sluice.error.sink': e.sink,
        'sluice.error.sink.code': e.code ?? '',
      },
      acks: output.acks,
      timestamp: src.timestamp,
      source: src,
    });
  }

  /** Changelog topics (compacted, co-partitioned with the windows' input) and late topics. */
  private async ensureStoreTopics(): Promise<void> {
    const stores = this.instance!.stores();
    if (!stores.length) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const meta = await retryKafka(
        () => admin.fetchTopicMetadata({ topics: this.def.sources.map((s) => s.topic) }),
        "reading the source topics' metadata",
      );
      const partitions = Math.max(this.cfg.topicPartitions, ...meta.topics.map((t) => t.partitions.length));
      await ensureTopics(
        admin,
        [
          ...stores.map((s) => ({ topic: s.changelog, partitions, compacted: true, config: s.config })),
          ...[...new Set(stores.flatMap((s) => (s.lateTopic ? [s.lateTopic] : [])))].map((topic) => ({ topic })),
        ],
        { partitions, replicationFactor: this.cfg.topicReplication },
      );
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Window state for the partitions this runner now owns, rebuilt from the changelogs alone:
   * whatever was in memory is dropped first (records not yet in a changelog are re-delivered from
   * the committed offsets), and outputs in flight are flushed so the changelogs are complete.
   */
  private async restoreStores(assignment: Record<string, number[]>): Promise<void> {
    const stores = this.instance?.stores() ?? [];
    if (!stores.length) return;
    await this.sink?.flush();
    const all = new Set(Object.values(assignment).flat());
    for (const s of stores) {
      const owned = s.inputTopic ? new Set(assignment[s.inputTopic] ?? []) : all;
      this.instance!.resetStore(s.changelog);
      if (!owned.size) continue;
      const started = Date.now();
      const n = await readToEnd(
        this.kafka,
        s.changelog,
        (p, key, value) => {
          if (key !== null) this.instance!.restore(s.changelog, p, key, value);
        },
        owned,
      );
      log.info(
        { topology: this.def.name, store: s.store, partitions: [...owned], records: n, ms: Date.now() - started },
        'state restored',
      );
    }
  }

  private tick(full = true): void {
    if (this.restoring) return;
    try {
      this.instance?.tick(full);
    } catch (err) {
      this.fail(err);
    }
    // The timer's results and checkpoints commit in their partitions' transactions.
    if (full && this.tx && !this.batchKey) void this.tx.flushPending().catch((err) => this.rewind(err));
  }

  private resetTracking(): void {
    for (const t of this.trackers.values()) t.reset();
    this.trackers.clear();
    this.paused.clear();
    this.metrics.pausedPartitions.set({ topology: this.def.name }, 0);
  }

  private async onBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
    pause,
  }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const key = this.tp(topic, partition);
    if (this.paused.has(key)) return;
    // A batch fetched before an assignment or a rewind is from the old position: dropped (the
    // seek that follows makes kafkajs fetch again from the committed offsets).
    const epoch = this.epoch;
    await this.seeking;
    // Resolve unseen schema ids once per batch (retried inside on registry outages), so the
    // pipeline itself stays synchronous and acknowledgements exact.
    await this.serde.prepare(batch.messages.map((m) => m.value));
    // Reference tables first catch up with what their topics hold now: a row produced before
    // this batch was fetched is in the table when the batch's records are checked against it.
    if (this.readers.length && !(await Promise.all(this.readers.map((r) => r.catchUp(3000)))).every(Boolean)) {
      log.warn(
        { topology: this.def.name, topic, partition },
        'a reference table is more than 3 s behind its topic; checking against what it holds',
      );
    }
    if (epoch !== this.epoch || isStale()) return;
    if (this.tx) this.batchKey = txKeyOf(topic, partition);
    let last: bigint | undefined;
    const tracker = this.tracker(topic, partition);
    const high = BigInt(batch.highWatermark);
    const latency = this.metrics.processingLatency.labels({ topology: this.def.name });
    const lagGauge = this.metrics.consumerLag.labels({ topology: this.def.name, topic, partition: String(partition) });
    let consumed = 0;
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || this.stopping) break;
      const offset = BigInt(m.offset);
      tracker.register(offset);
      const started = process.hrtime.bigint();
      const ack = createAck(
        () => {
          tracker.markDone(offset);
          this.lastProgressAt = Date.now();
          latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
          this.maybeResume(topic, partition, tracker);
        },
        (err) => this.fail(err),
      );
      consumed++;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.headers ?? {}))
        if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
      this.instance!.push(
        { topic, partition, offset: m.offset, key: m.key, value: m.value, headers, timestamp: Number(m.timestamp) },
        ack,
      );
      resolveOffset(m.offset);
      last = offset;
      const lag = Number(high - offset - 1n);
      this.lag.set(key, lag);
      lagGauge.set(lag);
      if (tracker.inFlight >= this.opts.maxInFlightPerPartition) {
        // Backpressure: stop fetching this partition until the sinks catch up.
        this.paused.add(key);
        pause();
        this.metrics.pausedPartitions.set({ topology: this.def.name }, this.paused.size);
        log.warn(
          { topology: this.def.name, topic, partition, inFlight: tracker.inFlight },
          'partition paused: too much in flight',
        );
        break;
      }
    }
    // Metrics per batch, through label-bound children: per-record label hashing costs more than the work.
    this.metrics.recordsIn.labels({ topology: this.def.name, topic }).inc(consumed);
    this.metrics.inFlight.set(
      { topology: this.def.name },
      [...this.trackers.values()].reduce((n, t) => n + t.inFlight, 0),
    );
    this.tick(false); // only what this batch changed; closing windows is the timer's full tick
    this.batchKey = undefined;
    if (this.tx && last !== undefined) {
      // Exactly-once: this batch's outputs, DLQ records, changelog writes and its offset, together.
      try {
        await this.tx.commitBatch(topic, partition, String(last + 1n));
        this.txFailures = 0;
      } catch (err) {
        this.rewind(err);
        return;
      }
    }
    await heartbeat();
  }

  private maybeResume(topic: string, partition: number, tracker: OffsetTracker): void {
    const key = this.tp(topic, partition);
    if (!this.paused.has(key) || tracker.inFlight > this.opts.maxInFlightPerPartition / 2) return;
    this.paused.delete(key);
    this.metrics.pausedPartitions.set({ topology: this.def.name }, this.paused.size);
    this.consumer?.resume([{ topic, partitions: [partition] }]);
  }

  /** Commits every partition's committable offset (serialised: commits never overtake each other). */
  commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      // Exactly-once: offsets commit inside each batch's transaction.
      if (!this.consumer || this.tx) return;
      const offsets: { topic: string; partition: number; offset: string }[] = [];
      for (const [key, t] of this.trackers) {
        const offset = t.takeCommit();
        if (offset === undefined) continue;
        const i = key.lastIndexOf('/');
        offsets.push({ topic: key.slice(0, i), partition: Number(key.slice(i + 1)), offset });
      }
      if (!offsets.length) return;
      const end = this.metrics.commitLatency.startTimer({ topology: this.def.name });
      try {
        await this.consumer.commitOffsets(offsets);
      } catch (err) {
        // A commit lost to a rebalance is harmless: the records are re-processed (at-least-once).
        log.warn({ topology: this.def.name, err: (err as Error).message }, 'offset commit failed');
      } finally {
        end();
      }
    });
    return this.committing;
  }

  private fail(err: unknown): void {
    if (this.stopping) return;
    this.failed = true;
    this.onFatal(asSluiceError(err));
  }

  status(): RunnerStatus {
    const lag = [...this.lag.values()].reduce((a, b) => a + b, 0);
    const inFlight = [...this.trackers.values()].reduce((n, t) => n + t.inFlight, 0);
    const stalled = (lag > 0 || inFlight > 0) && Date.now() - this.lastProgressAt > this.opts.stallMs;
    const assigned = Object.values(this.assignment).reduce((n, ps) => n + ps.length, 0);
    return {
      topology: this.def.name,
      running: this.running,
      assigned,
      paused: this.paused.size,
      inFlight,
      lag,
      lastProgressAt: this.lastProgressAt,
      ready: this.running && !stalled,
    };
  }

  /** Stop fetching, drain what is in flight, flush outputs, commit, leave the group. */
  async stop(deadlineMs = 20_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const deadline = Date.now() + deadlineMs;
    clearInterval(this.commitTimer);
    clearInterval(this.tickTimer);
    this.tick(); // hand the windows' pending contributions to the changelog before draining
    // Pause rather than consumer.stop(): stop() tears down the group session, and the final
    // commit below must still go through it. onBatch returns at once while stopping.
    try {
      this.consumer?.pause(this.def.sources.map((s) => ({ topic: s.topic })));
    } catch {
      /* not yet running */
    }
    const flushAll = async () => {
      await this.sink?.flush().catch(() => {});
      for (const s of this.sinks.values())
        await s
          .flush()
          .catch((err) => log.error({ topology: this.def.name, sink: s.name, err: String(err) }, 'sink flush failed'));
    };
    await flushAll();
    while (!this.failed && Date.now() < deadline && [...this.trackers.values()].some((t) => t.inFlight > 0)) {
      await new Promise((r) => setTimeout(r, 20));
      await flushAll();
    }
    this.stopping = false; // let the final commit through
    await this.commit();
    await this.tx
      ?.flushPending()
      .catch((err) =>
        log.warn(
          { topology: this.def.name, err: (err as Error).message },
          'last state transaction failed; it is derived again on restart',
        ),
      );
    this.stopping = true;
    this.instance?.stop();
    await this.consumer?.disconnect().catch(() => {});
    await this.producer?.disconnect().catch(() => {});
    await this.tx?.close().catch(() => {});
    for (const s of this.sinks.values()) await s.close(Math.max(1000, deadline - Date.now())).catch(() => {});
    for (const r of this.readers) await r.stop().catch(() => {});
    this.running = false;
  }
}
