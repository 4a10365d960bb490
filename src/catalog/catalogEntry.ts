import type { FreshnessState } from '../quality/freshnessSlas.ts';
import type { TopologyOwner } from '../topology/types.ts';

/**
 * One entry of `sluice catalog`: a topic or a warehouse table, what it holds, who owns it, where
 * its data comes from and goes, and how its freshness and quality are watched. `buildCatalog`
 * fills what the code declares; `catalogLive` adds what only the services know (registered
 * schema versions, measured freshness, whether a table exists).
 */
export interface CatalogEntry {
  kind: 'topic' | 'table';
  /** A topic (`silver.orders`), or a table as `warehouse:<schema>.<table>` like the freshness subjects. */
  name: string;
  /** The schema's doc (topics) or the table comment (tables). */
  description?: string;
  /** The owner of the topology that writes it; null when no topology does (the extract, the collector). */
  owner: TopologyOwner | null;
  /** Which topology the owner is declared on. */
  ownerTopology?: string;
  schema: CatalogSchema;
  /** A topic's Avro fields, or a table's data columns (Postgres types). */
  fields: CatalogField[];
  upstream: CatalogLink[];
  downstream: CatalogLink[];
  /** The freshness SLA covering it, if one does. */
  freshness: CatalogFreshness | null;
  quality: CatalogQuality;
  /** Tables: whether the table is in the warehouse database, and about how many rows it holds. */
  warehouse?: { status: LiveStatus; exists?: boolean; rowsEstimate?: number | null };
}

/** Where a live fact stands: `offline` (not asked), `ok`, or `unavailable: <why>`. */
export type LiveStatus = 'offline' | 'ok' | `unavailable: ${string}`;

export interface CatalogSchema {
  /** The `.avsc` schema name (topics, bronze and silver tables) or the Avro record name (gold tables). */
  name: string | null;
  /** TopicNameStrategy subject in the registry; tables have none. */
  subject: string | null;
  /** The versions the registry holds under the subject (live only; [] when it has none). */
  versions?: number[];
  status: LiveStatus | 'not registered' | 'no subject';
}

export interface CatalogField {
  name: string;
  /** Avro type (`long`, `null | string`, `decimal(12,2)`, `timestamp-millis`) or a Postgres column type. */
  type: string;
  doc?: string;
  /** The field's `sluice.pii` mark (`email`, `name`, `phone`, `address`, `free_text`), null when unmarked. */
  pii: string | null;
}

export interface CatalogLink {
  kind: 'topology' | 'topic' | 'table' | 'sink';
  name: string;
}

export interface CatalogFreshness {
  /** The SLA's subject (`oltp.orders`, `warehouse:gold.fact_orders`). */
  subject: string;
  /** `record timestamp` or `max(<column>)`. */
  source: string;
  warnAfterSeconds: number;
  breachAfterSeconds: number;
  /** Measured state, or why there is none. */
  state: FreshnessState | 'not measured' | 'unavailable';
  ageSeconds?: number | null;
  detail?: string;
}

export interface CatalogQuality {
  /** Dead-letter topics of the topic, one per topology that reads it. */
  dlq: string[];
  /** Rules the reading topologies validate it with. */
  rules: string[];
  /** Warehouse tests declared on the table (`src/shop/warehouseTests.ts`). */
  tests: string[];
}
