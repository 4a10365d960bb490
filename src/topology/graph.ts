import type { Observable, OperatorFunction } from 'rxjs';

/**
 * The topology graph as the pipeline builds it (Kafka Streams' `Topology#describe()`): every
 * operator records itself when it is applied to a stream, so `sluice describe` and the lineage
 * come from what runs, not from prose beside it. Building the graph does no I/O.
 */

export type NodeKind = 'source' | 'operator' | 'topic' | 'sink' | 'dlq' | 'table' | 'store' | 'late';
export type EdgeKind = 'records' | 'dead-letters' | 'lookups' | 'state' | 'late';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  /** A topic, a sink output, a store's changelog, or an operator's label (`validate(a, b)`). */
  name: string;
  /** Operators: which one (`decode`, `validate`, ...). */
  operator?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** Dead-letter edges: the source topic whose records take it. */
  source?: string;
}

export interface GraphData {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** What an operator declares about itself when it is applied. */
export interface OperatorNodeSpec {
  operator: string;
  label: string;
  /** Records may leave here for the DLQ of the source they came from. */
  deadLetters?: boolean;
  /** Reference topics looked up. */
  reads?: string[];
  /** Where the stream ends: an output topic, or a sink output. */
  writes?: { topic: string; sink?: boolean }[];
  /** Changelog topics of the state the operator keeps. */
  state?: string[];
  /** Where late records go. */
  late?: string;
}

/** A stream the graph cannot trace back (built with plain RxJS between operators). */
export const UNTRACED = 'untraced RxJS';

export class GraphBuilder {
  private readonly nodes = new Map<string, GraphNode>();
  private readonly edges = new Map<string, GraphEdge>();
  /** Stream → the nodes its records come from. */
  private readonly origins = new WeakMap<Observable<unknown>, Set<string>>();
  /** Node → the source topics upstream of it (for DLQ edges). */
  private readonly sources = new Map<string, Set<string>>();
  private operators = 0;

  private readonly dlqOf: (sourceTopic: string) => string;

  constructor(dlqOf: (sourceTopic: string) => string) {
    this.dlqOf = dlqOf;
  }

  /** Marks a source topic's stream. */
  source<T>(topic: string, stream: Observable<T>): Observable<T> {
    const id = this.node('source', topic);
    this.sources.set(id, new Set([topic]));
    this.origins.set(stream, new Set([id]));
    return stream;
  }

  /** Wraps an RxJS operator: applying it to a stream records a node fed by that stream. */
  operator<A, B>(spec: OperatorNodeSpec, op: OperatorFunction<A, B>): OperatorFunction<A, B> {
    return (upstream) => {
      const id = this.addOperator(spec, this.originsOf(upstream));
      const out = op(upstream);
      this.origins.set(out, new Set([id]));
      return out;
    };
  }

  /** Structural operators (merge, share) make no node: the new stream comes from the same ones. */
  carry<T>(from: Observable<unknown>[], to: Observable<T>): Observable<T> {
    this.origins.set(to, new Set(from.flatMap((s) => [...this.originsOf(s)])));
    return to;
  }

  data(): GraphData {
    return { nodes: [...this.nodes.values()], edges: [...this.edges.values()] };
  }

  private originsOf(stream: Observable<unknown>): Set<string> {
    const known = this.origins.get(stream);
    if (known) return known;
    // Still drawn, so describe shows the gap instead of hiding it; the shipped topologies have none.
    const id = this.node('operator', UNTRACED, `op:${++this.operators}`);
    this.nodes.get(id)!.operator = UNTRACED;
    this.sources.set(id, new Set());
    return new Set([id]);
  }

  private addOperator(spec: OperatorNodeSpec, from: Set<string>): string {
    const id = `op:${++this.operators}`;
    this.nodes.set(id, { id, kind: 'operator', name: spec.label, operator: spec.operator });
    const upstreamSources = new Set<string>();
    for (const f of from) {
      this.edge(f, id, 'records');
      for (const s of this.sources.get(f) ?? []) upstreamSources.add(s);
    }
    this.sources.set(id, upstreamSources);
    if (spec.deadLetters) {
      for (const s of upstreamSources) this.edge(id, this.node('dlq', this.dlqOf(s)), 'dead-letters', s);
    }
    for (const t of spec.reads ?? []) this.edge(this.node('table', t), id, 'lookups');
    for (const w of spec.writes ?? []) this.edge(id, this.node(w.sink ? 'sink' : 'topic', w.topic), 'records');
    for (const c of spec.state ?? []) this.edge(id, this.node('store', c), 'state');
    if (spec.late) this.edge(id, this.node('late', spec.late), 'late');
    return id;
  }

  private node(kind: NodeKind, name: string, id = `${kind === 'source' ? 'topic' : kind}:${name}`): string {
    // A topic read as a source and written by another branch is one node (kind of its first part).
    const existing =
      this.nodes.get(id) ?? (kind === 'topic' || kind === 'dlq' ? this.nodes.get(`topic:${name}`) : undefined);
    if (existing) return existing.id;
    this.nodes.set(id, { id, kind, name });
    return id;
  }

  private edge(from: string, to: string, kind: EdgeKind, source?: string): void {
    this.edges.set(`${from}→${to}`, { from, to, kind, ...(source ? { source } : {}) });
  }
}
