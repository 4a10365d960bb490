import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type avro from 'avsc';
import { SluiceError } from '../core/errors.ts';
import { forSchema } from '../serde/logicalTypes.ts';

/**
 * The commerce schemas in `schemas/*.avsc`, one file per value subject, named after the topic.
 * `silver.<name>` reuses the row schema of `oltp.<name>`. Subjects follow TopicNameStrategy.
 */

/** Absolute path of the repository's `schemas/` directory. */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

/** Topic → `.avsc` file name (relative to SCHEMAS_DIR) holding its value schema. */
export const SCHEMA_FILES: Readonly<Record<string, string>> = Object.freeze({
  'oltp.customers': 'oltp.customers.avsc',
  'oltp.products': 'oltp.products.avsc',
  'oltp.orders': 'oltp.orders.avsc',
  'oltp.order_items': 'oltp.order_items.avsc',
  'silver.customers': 'oltp.customers.avsc',
  'silver.products': 'oltp.products.avsc',
  'silver.orders': 'oltp.orders.avsc',
  'silver.order_items': 'oltp.order_items.avsc',
  'web.clickstream': 'web.clickstream.avsc',
  'silver.clickstream': 'web.clickstream.avsc',
  'metrics.revenue_per_minute': 'metrics.revenue_per_minute.avsc',
  'metrics.orders_per_minute': 'metrics.orders_per_minute.avsc',
  'metrics.funnel_5m': 'metrics.funnel_5m.avsc',
  'metrics.active_sessions': 'metrics.active_sessions.avsc',
  'metrics.dlq_per_minute': 'metrics.dlq_per_minute.avsc',
});

/** Every topic with an Avro value schema, in SCHEMA_FILES order. */
export const SCHEMA_TOPICS: readonly string[] = Object.freeze(Object.keys(SCHEMA_FILES));

/** The distinct `.avsc` files, sorted. */
export function schemaFileNames(): string[] {
  return [...new Set(Object.values(SCHEMA_FILES))].sort();
}

/** TopicNameStrategy subject: `<topic>-value` or `<topic>-key`. */
export function subjectFor(topic: string, part: 'value' | 'key' = 'value'): string {
  return `${topic}-${part}`;
}

const parsed = new Map<string, avro.Schema>();
const types = new Map<string, avro.Type>();

function fileFor(subjectTopic: string): string {
  const topic = subjectTopic.endsWith('-value') ? subjectTopic.slice(0, -'-value'.length) : subjectTopic;
  const file = Object.hasOwn(SCHEMA_FILES, topic) ? SCHEMA_FILES[topic] : undefined;
  if (!file)
    throw new SluiceError(
      'SCHEMA_NOT_FOUND',
      `no value schema for ${JSON.stringify(subjectTopic)} (known topics: ${SCHEMA_TOPICS.join(', ')})`,
    );
  return file;
}

function readSchemaFile(file: string): avro.Schema {
  let schema = parsed.get(file);
  if (!schema) {
    const path = `${SCHEMAS_DIR}${file}`;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new SluiceError('SCHEMA_NOT_FOUND', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    schema = JSON.parse(text) as avro.Schema;
    parsed.set(file, schema);
  }
  return schema;
}

/**
 * The value schema (parsed JSON, a fresh copy per call) of a topic, e.g. `oltp.orders` or
 * `silver.orders`; a `<topic>-value` subject name is accepted too. SCHEMA_NOT_FOUND otherwise.
 */
export function loadSchema(subjectTopic: string): avro.Schema {
  return structuredClone(readSchemaFile(fileFor(subjectTopic)));
}

/** The avsc Type (Sluice logical types, unwrapped unions) of a topic's value schema; cached. */
export function loadType(subjectTopic: string): avro.Type {
  const file = fileFor(subjectTopic);
  let type = types.get(file);
  if (!type) {
    type = forSchema(readSchemaFile(file));
    types.set(file, type);
  }
  return type;
}
