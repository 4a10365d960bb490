import type { Config } from '../config/config.ts';
import { asSluiceError, errorCode, SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import type { EngineMetrics } from '../engine/engineMetrics.ts';
import { startTopology, type TopologyInstance } from '../engine/topologyInstance.ts';
import type { TopicSpec } from '../kafka/ensureTopics.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import { isTransientKafkaError } from '../kafka/isTransientKafkaError.ts';
import { piiMaskingOf } from '../pii/piiMasking.ts';
import type { Consumer, EachBatchPayload, Producer } from '../kafka/kafkaTypes.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { RegistryClient } from '../serde/schemaRegistry.ts';
import type { Output, SinkConnector, SinkRecordError, TopologyDefinition } from '../topology/types.ts';
import {
  connectSinks,
  ensureStoreTopics,
  ensureTopologyTopics,
  operatorMetricsOf,
  registerSchemas,
  topologyTopics,
} from './bootstrap.ts';
import { Committer } from './committer.ts';
import { batchIntake, afterBatch, pushRecord } from './recordIntake.ts';
import { sourcesThatLookUp } from '../topology/lookupSources.ts';
import { ReferenceCatchUp, startReferenceTables } from './referenceTables.ts';
import { type RunnerOptions, type RunnerStatus, runnerStatus } from './runnerOptions.ts';
import type { OutputSink } from './outputSink.ts';
import { connectKafkaOutputs, drainOutputs } from './kafkaOutputs.ts';
import type { OffsetTracker } from '../engine/offsetTracker.ts';
import { PartitionFlow } from './partitionFlow.ts';
import type { ReferenceReader } from './referenceReader.ts';
import { resumeFetch } from './resumeFetch.ts';
import { handleSinkRejection } from './sinkDeadLetter.ts';
import { type Assignment, restoreStores, seekToCommitted, seekToSinkOffsets } from './stateRestore.ts';
import { TransactionFailures, waitUntil } from './transactionFailures.ts';
import { type TransactionalOutputs, txKeyOf } from './transactionalOutputs.ts';
import type { TickKind } from '../windows/windowOperator.ts';

/**
 * Runs one topology against Kafka: one consumer group (`sluice-<topology>`), order kept within
 * each partition, offsets committed only up to records whose outputs are all durable, partitions
 * paused while too much is in flight. A consumer that crashes without kafkajs restarting it is
 * reported through `onFatal`, so the process never looks healthy while consuming nothing.
 *
 * The parts: bootstrap.ts (topics, schemas, tables, sinks), partitionFlow.ts and resumeFetch.ts
 * (tracking, backpressure), committer.ts (commits), stateRestore.ts (restore and seek on
 * assignment), transactionalOutputs.ts (exactly-once), outputSink.ts (the producer side). */
export type { RunnerOptions, RunnerStatus } from './runnerOptions.ts';

/** How long a batch waits for reference tables to catch up with their topics. */
const REFERENCE_CATCH_UP_MS = 3000;
/** How long a full partition's batch waits for room before pausing its fetch (a stalled sink). */
const ROOM_WAIT_MS = 1000;
/** The timer that lets windows see time pass when no record arrives, and writes their state. */
const TICK_INTERVAL_MS = 200;
/** The timer that sends provisional results held back by coalescing (see DEFAULT_EMIT_EVERY_MS). */
const EMIT_DUE_INTERVAL_MS = 10;

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
  private readonly flow: PartitionFlow;
  private readonly committer: Committer;
  private consumer?: Consumer;
  private producer?: Producer;
  private sink?: OutputSink;
  private instance?: TopologyInstance;
  private readers: ReferenceReader[] = [];
  private references = new ReferenceCatchUp([], REFERENCE_CATCH_UP_MS);
  /** Sources whose records meet a table lookup (undefined: all of them); see sourcesThatLookUp. */
  private lookupSources?: Set<string>;
  private sinks = new Map<string, SinkConnector>();
  private commitTimer?: NodeJS.Timeout;
  private tickTimer?: NodeJS.Timeout;
  private emitTimer?: NodeJS.Timeout;
  private running = false;
  private stopping = false;
  /** A fatal error was reported: nothing in flight will complete, so stop() does not wait for it. */
  private failed = false;
  private assignment: Assignment = {};
  private seeking: Promise<void> = Promise.resolve();
  /** State stores are being rebuilt from their changelogs: no tick may look at them. */
  private restoring = false;
  /** Exactly-once: the per-partition transactions (absent under at-least-once). */
  private tx?: TransactionalOutputs;
  /** Exactly-once: the input partition whose batch is being pushed (its transaction takes the outputs). */
  private batchKey?: string;
  private readonly txFailures: TransactionFailures;
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
    this.txFailures = new TransactionFailures(args.def.name, args.cfg.kafkaSessionTimeoutMs);
    this.def = args.def;
    this.kafka = args.kafka;
    this.registry = args.registry;
    this.serde = args.serde;
    this.metrics = args.metrics;
    this.onFatal = args.onFatal;
    this.opts = {
      maxInFlightPerPartition: args.options?.maxInFlightPerPartition ?? args.cfg.maxInFlightRecords,
      maxInFlightBytesPerPartition: args.options?.maxInFlightBytesPerPartition ?? args.cfg.maxInFlightBytes,
      commitIntervalMs: args.options?.commitIntervalMs ?? 1000,
      stallMs: args.options?.stallMs ?? 30_000,
      groupId: args.options?.groupId ?? `sluice-${args.def.name}`,
    };
    const topology = { topology: this.def.name };
    const limits = { records: this.opts.maxInFlightPerPartition, bytes: this.opts.maxInFlightBytesPerPartition };
    this.flow = new PartitionFlow(this.def.name, limits, {
      resume: (topic, partition) => resumeFetch(this.consumer, topic, partition),
      pausedChanged: (n) => this.metrics.pausedPartitions.set(topology, n),
    });
    this.committer = new Committer(this.def.name, this.flow, this.metrics);
  }

  /** Topics this topology needs: sources, outputs, DLQs (created if missing, checked if present). */
  topicSpecs(): TopicSpec[] {
    return topologyTopics(this.def);
  }

  async start(): Promise<void> {
    const { def, cfg } = this;
    const pii = piiMaskingOf(cfg); // a PII policy conflict or a missing key stops the start, before any I/O
    await ensureTopologyTopics(this.kafka, cfg, def);
    const schemaIds = await registerSchemas(this.registry, this.serde, def);
    const { tables, readers } = await startReferenceTables(cfg, this.kafka, this.serde, def, (err) => this.fail(err));
    this.readers = readers;
    this.references = new ReferenceCatchUp(readers, REFERENCE_CATCH_UP_MS);
    const outputs = await connectKafkaOutputs({
      cfg,
      kafka: this.kafka,
      serde: this.serde,
      def,
      groupId: this.opts.groupId,
      schemaIds,
      metrics: this.metrics,
      onFatal: (err) => this.fail(err),
    });
    ({ producer: this.producer, sink: this.sink, tx: this.tx } = outputs);
    const deadLetter = (out: Output, e: SinkRecordError) => this.sinkDeadLetter(out, e);
    this.sinks = await connectSinks({ cfg, def, schemaIds, metrics: this.metrics, deadLetter });
    for (const s of this.sinks.values()) if (s.holds) this.flow.allowSinkBatch(s.holds);
    this.instance = startTopology(def, {
      serde: this.serde,
      tables,
      now: Date.now,
      route: (o) => this.route(o),
      onFatal: (err) => this.fail(err),
      metrics: operatorMetricsOf(this.metrics, def.name),
      pii,
    });
    this.lookupSources = sourcesThatLookUp(this.instance.graph());
    await ensureStoreTopics(this.kafka, cfg, def, this.instance.stores());
    await this.consume();
    this.commitTimer = setInterval(() => void this.commit(), this.opts.commitIntervalMs);
    // Windows need time to pass even when no record arrives (idle watermark, provisional results).
    if (this.instance.stores().length) {
      this.tickTimer = setInterval(() => this.tick(), TICK_INTERVAL_MS);
      this.emitTimer = setInterval(
        () => this.restoring || this.guard(() => this.instance?.emitDue()),
        EMIT_DUE_INTERVAL_MS,
      );
    }
    const sources = def.sources.map((s) => s.topic);
    const guarantee = this.tx ? 'exactly_once' : 'at_least_once';
    log.info({ topology: def.name, group: this.opts.groupId, sources, guarantee }, 'topology running');
  }

  /** Joins the group and runs the batch loop; assignment and crash events drive restores and restarts. */
  private async consume(): Promise<void> {
    const consumer = this.kafka.consumer({ groupId: this.opts.groupId });
    this.consumer = consumer;
    const { CRASH, FETCH, GROUP_JOIN, REBALANCING } = consumer.events;
    consumer.on(FETCH, () => this.references.fetched());
    consumer.on(CRASH, (e) => this.onCrash(e.payload.error, (e.payload as { restart?: boolean }).restart));
    consumer.on(REBALANCING, () => void this.commit());
    consumer.on(GROUP_JOIN, (e) => this.onAssignment(e.payload.memberAssignment as Assignment));
    await consumer.connect();
    await consumer.subscribe({ topics: this.def.sources.map((s) => s.topic), fromBeginning: true });
    this.running = true;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  private onCrash(error: Error | undefined, restart: boolean | undefined): void {
    const fields = {
      code: errorCode('KAFKA_CONSUMER_CRASHED'),
      topology: this.def.name,
      restart,
      err: String(error?.message ?? error),
    };
    // A restart after a transient broker error (a coordinator still loading on a fresh broker) is
    // recovery, not an error.
    if (restart && isTransientKafkaError(error)) log.warn(fields, 'consumer crashed; kafkajs restarts it');
    else log.error(fields, 'consumer crashed');
    if (restart) {
      this.metrics.consumerRestarts.inc({ topology: this.def.name });
      this.flow.reset();
    } else if (!this.stopping) {
      const message = `consumer of ${this.def.name} crashed and will not restart: ${error?.message}`;
      this.fail(new SluiceError('KAFKA_CONSUMER_CRASHED', message));
    }
  }

  /**
   * A new assignment: records fetched under the old one are re-fetched from the committed offsets.
   * Batches and ticks wait for the seek and restore (a tick mid-changelog would close old windows).
   */
  private onAssignment(assignment: Assignment): void {
    this.flow.reset();
    this.assignment = assignment;
    this.txFailures.release();
    log.info({ topology: this.def.name, assignment }, 'partitions assigned');
    this.restoring = true;
    this.epoch++;
    this.tx?.discard();
    const resume = this.tx
      ? this.resumeTransactional(assignment)
      : Promise.all([
          seekToSinkOffsets([...this.sinks.values()], this.consumer!, assignment),
          this.restore(assignment),
        ]);
    this.seeking = resume.then(
      () => {
        this.restoring = false;
      },
      (err) => this.fail(err),
    );
  }

  private async restore(assignment: Assignment): Promise<void> {
    if (!this.instance?.stores().length) return;
    await this.sink?.flush();
    await restoreStores(this.kafka, this.instance, assignment, this.def.name);
  }

  /** Where an output goes: its sink connector, the partition's transaction, or the producer. */
  private route(o: Output): void {
    // By the output's topic, not its kind: an operator that builds its outputs itself may not set it.
    const connector = this.sinks.get(o.topic);
    if (connector) connector.add(o);
    else if (this.tx) {
      const fromSource = o.source ? txKeyOf(o.source.topic, o.source.partition) : `${this.def.name}.state`;
      this.tx.add(o, o.txn ?? this.batchKey ?? fromSource);
    } else this.sink!.add(o);
  }

  /**
   * Exactly-once, on every assignment and after a failed transaction: fence the previous owner of
   * each partition (initialise its transactional id), only then read the committed offsets and
   * seek there, and rebuild the state from the committed changelogs. Whatever was buffered for a
   * transaction is dropped: it is derived again from the re-delivered records.
   */
  private async resumeTransactional(assignment: Assignment): Promise<void> {
    const tx = this.tx!;
    const owned = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => txKeyOf(t, p))));
    await tx.retain(owned);
    await tx.fence(owned);
    await seekToCommitted(this.kafka, this.consumer!, this.opts.groupId, assignment);
    await this.restore(assignment);
  }

  /**
   * A transaction begun in `epoch` failed (broker restart, fenced): start again from what is
   * committed (see TransactionFailures). A failure of a transaction begun before the latest
   * assignment or rewind is old news: that one already went back to the committed offsets.
   */
  private rewind(err: unknown, epoch: number): void {
    if (this.stopping || epoch !== this.epoch) return;
    const next = this.txFailures.failed(err);
    if (next.kind === 'give-up') {
      const message = `exactly-once transactions of ${this.def.name} failed for two minutes: ${(err as Error).message}`;
      this.fail(new SluiceError('KAFKA_PRODUCE_FAILED', message, { cause: err }));
      return;
    }
    this.flow.reset();
    this.restoring = true;
    this.epoch++;
    this.tx!.discard();
    if (next.kind === 'failed') {
      this.seeking = this.resumeAfter(this.seeking, next.backoffMs);
      return;
    }
    const rewound = this.epoch;
    void waitUntil(() => this.epoch !== rewound || this.stopping, next.waitMs).then(() => {
      if (this.epoch !== rewound || this.stopping) return; // an assignment came: it resumed
      this.txFailures.release();
      this.epoch++;
      this.flow.reset(); // resumes the partitions held meanwhile
      this.seeking = this.resumeAfter(Promise.resolve(), 0);
    });
  }

  /** Resumes from the committed offsets and state once `after` settled and `delayMs` passed. */
  private resumeAfter(after: Promise<void>, delayMs: number): Promise<void> {
    return after
      .then(() => new Promise((r) => setTimeout(r, delayMs)))
      .then(() => this.resumeTransactional(this.assignment))
      .then(
        () => {
          this.restoring = false;
        },
        (e) => this.fail(e),
      );
  }

  /**
   * A record a sink can never take goes to `<source>.dlq` (reason `sink`), the dead letter taking
   * over the output's acks; the rest of the sink's batch is the sink's business.
   * SLUICE_SINK_ERRORS=fail stops instead.
   */
  private sinkDeadLetter(output: Output, e: SinkRecordError): void {
    const deadLetter = handleSinkRejection(this.def, output, e, this.cfg.sinkErrors);
    if (deadLetter) this.sink!.add(deadLetter);
  }

  /** Runs engine work outside a batch; what it throws stops the runner (see fail). */
  private guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.fail(err);
    }
  }

  private tick(kind: TickKind = 'full'): void {
    if (this.restoring) return;
    this.guard(() => this.instance?.tick(kind));
    // The timer's results and checkpoints commit in their partitions' transactions.
    if (kind === 'full' && this.tx && !this.batchKey) {
      const epoch = this.epoch;
      void this.tx.flushPending().catch((err) => this.rewind(err, epoch));
    }
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
    if (this.flow.isPaused(topic, partition)) return;
    if (this.txFailures.holding) {
      // Fenced: fetch nothing until the group reassigns (see rewind); the consumer heartbeats on.
      this.flow.hold(topic, partition);
      pause();
      return;
    }
    // A batch fetched before an assignment or a rewind is from the old position: dropped (the
    // seek that follows makes kafkajs fetch again from the committed offsets).
    const epoch = this.epoch;
    await this.seeking;
    // Resolve unseen schema ids once per batch (retried inside on registry outages), so the
    // pipeline itself stays synchronous and acknowledgements exact.
    await this.serde.prepare(batch.messages.map((m) => m.value));
    if (!this.lookupSources || this.lookupSources.has(topic))
      await this.references.beforeBatch({ topology: this.def.name, topic, partition });
    if (epoch !== this.epoch || isStale()) return;
    if (this.tx) this.batchKey = txKeyOf(topic, partition);
    const where = { topology: this.def.name, topic, partition };
    const intake = batchIntake(this.flow, this.metrics, where, (err) => this.fail(err));
    const { tracker } = intake;
    let last: bigint | undefined;
    let consumed = 0;
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || this.stopping) break;
      last = pushRecord(this.instance!, intake, m);
      consumed++;
      if (this.flow.isFull(tracker) && !(await this.makeRoom(topic, partition, tracker, epoch))) {
        // Backpressure: no room within the wait (a stalled sink), or a new assignment.
        if (epoch === this.epoch && !isStale()) pause();
        break;
      }
    }
    if (last !== undefined) afterBatch(intake, last, BigInt(batch.highWatermark), resolveOffset);
    // Metrics per batch, through label-bound children: per-record label hashing costs more than the work.
    this.metrics.recordsIn.labels({ topology: this.def.name, topic }).inc(consumed);
    this.metrics.inFlight.set({ topology: this.def.name }, this.flow.inFlight);
    // Provisional results now, state with the timer or room-making (exactly-once: with the batch).
    this.tick(this.tx ? 'state' : 'results');
    this.batchKey = undefined;
    if (this.tx && last !== undefined && !(await this.commitTransaction(topic, partition, last, epoch))) return;
    await heartbeat();
  }

  /**
   * Backpressure within the batch: hand what the windows hold to their changelogs, then wait for
   * room (see PartitionFlow). Exactly-once outputs commit only with the batch, so there the wait
   * would never end: the partition pauses at once. False: pause the partition (the wait timed out,
   * and it is paused in the flow), or stop (a new assignment).
   */
  private async makeRoom(topic: string, partition: number, tracker: OffsetTracker, epoch: number): Promise<boolean> {
    if (!this.tx) {
      this.tick('state');
      if (await this.flow.waitForRoom(topic, partition, tracker, ROOM_WAIT_MS)) return true;
      if (epoch !== this.epoch) return false;
    }
    this.flow.pause(topic, partition, tracker);
    return false;
  }

  /** Exactly-once: this batch's outputs, DLQ records, changelog writes and its offset, together. */
  private async commitTransaction(topic: string, partition: number, last: bigint, epoch: number): Promise<boolean> {
    try {
      await this.tx!.commitBatch(topic, partition, String(last + 1n));
      this.txFailures.succeeded();
      return true;
    } catch (err) {
      this.rewind(err, epoch);
      return false;
    }
  }

  /** Commits every partition's committable offset (serialised: commits never overtake each other). */
  commit(): Promise<void> {
    // Exactly-once: offsets commit inside each batch's transaction.
    return this.committer.commit(this.tx ? undefined : this.consumer);
  }

  private fail(err: unknown): void {
    if (this.stopping) return;
    this.failed = true;
    this.onFatal(asSluiceError(err));
  }

  status(): RunnerStatus {
    return runnerStatus(this.def.name, this.running, this.assignment, this.flow, this.opts.stallMs);
  }

  /** Stop fetching, drain what is in flight, flush outputs, commit, leave the group. */
  async stop(deadlineMs = 20_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const deadline = Date.now() + deadlineMs;
    clearInterval(this.commitTimer);
    clearInterval(this.tickTimer);
    clearInterval(this.emitTimer);
    this.tick(); // hand the windows' pending contributions to the changelog before draining
    // Pause rather than consumer.stop(): stop() tears down the group session, and the final
    // commit below must still go through it. onBatch returns at once while stopping.
    try {
      this.consumer?.pause(this.def.sources.map((s) => ({ topic: s.topic })));
    } catch {
      /* not yet running */
    }
    await drainOutputs(this.def.name, this.sink, this.sinks.values(), {
      deadline,
      inFlight: () => this.flow.inFlight,
      stop: () => this.failed,
    });
    this.stopping = false; // let the final commit through
    await this.commit();
    await this.tx?.flushPending().catch((err) => {
      const fields = { topology: this.def.name, err: (err as Error).message };
      log.warn(fields, 'last state transaction failed; it is derived again on restart');
    });
    this.stopping = true;
    await this.disconnect(deadline);
    this.running = false;
  }

  private async disconnect(deadline: number): Promise<void> {
    this.instance?.stop();
    await this.consumer?.disconnect().catch(() => {});
    await this.producer?.disconnect().catch(() => {});
    await this.tx?.close().catch(() => {});
    for (const s of this.sinks.values()) await s.close(Math.max(1000, deadline - Date.now())).catch(() => {});
    for (const r of this.readers) await r.stop().catch(() => {});
  }
}
