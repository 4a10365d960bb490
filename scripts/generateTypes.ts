/**
 * Generates `src/domain/types.generated.ts` from `schemas/*.avsc`: one interface per record,
 * a string-literal union per enum, and `ValueTypeByTopic` mapping each topic to its value type.
 * Mapping: decimal → string, timestamp-millis → number (epoch ms), long/int/float/double → number,
 * bytes/fixed → Buffer, nullable union → `T | null`, array → `T[]`, map → `Record<string, T>`.
 *
 *   node scripts/generateTypes.ts         # writes the file
 *
 * test/unit/domain/typesDrift.test.ts fails when the committed file differs from `generateTypes()`.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SCHEMAS_DIR, SCHEMA_FILES } from '../src/domain/schemas.ts';

export const OUTPUT_PATH = fileURLToPath(new URL('../src/domain/types.generated.ts', import.meta.url));

type Json = Record<string, any>;

interface Named {
  fullName: string;
  tsName: string;
  code: string;
  file: string;
  /** Canonical JSON of the definition, to detect one name defined two ways. */
  canonical: string;
}

const PRIMITIVES: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

/** Logical types whose TypeScript shape differs from (or documents) the underlying type. */
const LOGICAL: Record<string, string> = {
  decimal: 'string',
  'timestamp-millis': 'number',
  'timestamp-micros': 'number',
  'local-timestamp-millis': 'number',
  'time-millis': 'number',
  date: 'number',
  uuid: 'string',
};

function docComment(doc: unknown, indent: string): string {
  if (typeof doc !== 'string' || doc === '') return '';
  const lines = doc.replace(/\*\//g, '*\\/').split('\n');
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

function quoteKey(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

class Collector {
  readonly named = new Map<string, Named>();
  readonly order: string[] = [];
  private readonly tsNames = new Map<string, string>();
  /** The .avsc file being read, for messages and grouping. */
  file = '';

  private fullName(schema: Json, namespace: string | undefined): string {
    const name: string = schema.name;
    if (name.includes('.')) return name;
    const ns = schema.namespace ?? namespace;
    return ns ? `${ns}.${name}` : name;
  }

  private register(fullName: string, code: string, schema: Json): string {
    const tsName = fullName.slice(fullName.lastIndexOf('.') + 1);
    const canonical = JSON.stringify(schema);
    const existing = this.named.get(fullName);
    if (existing) {
      if (existing.canonical !== canonical) {
        throw new Error(`${this.file}: ${fullName} is also defined differently in ${existing.file}`);
      }
      return existing.tsName;
    }
    const clash = this.tsNames.get(tsName);
    if (clash && clash !== fullName)
      throw new Error(`${this.file}: ${fullName} and ${clash} would both be named ${tsName}`);
    this.tsNames.set(tsName, fullName);
    this.named.set(fullName, { fullName, tsName, code, file: this.file, canonical });
    this.order.push(fullName);
    return tsName;
  }

  /** TypeScript type expression for a schema; named types are emitted once as declarations. */
  typeOf(schema: unknown, namespace: string | undefined): string {
    if (typeof schema === 'string') {
      if (PRIMITIVES[schema]) return PRIMITIVES[schema];
      const full = schema.includes('.') ? schema : namespace ? `${namespace}.${schema}` : schema;
      const known = this.named.get(full) ?? this.named.get(schema);
      if (!known) throw new Error(`${this.file}: unknown type reference ${schema}`);
      return known.tsName;
    }
    if (Array.isArray(schema)) {
      const branches = schema.map((s) => this.typeOf(s, namespace));
      const nonNull = branches.filter((b) => b !== 'null');
      return [...nonNull, ...(nonNull.length !== branches.length ? ['null'] : [])].join(' | ');
    }
    const s = schema as Json;
    if (
      typeof s.logicalType === 'string' &&
      LOGICAL[s.logicalType] &&
      !['record', 'enum', 'array', 'map', 'error'].includes(s.type)
    ) {
      if (s.type === 'fixed') this.typeOf({ ...s, logicalType: undefined }, namespace); // still declare the name
      return LOGICAL[s.logicalType];
    }
    switch (s.type) {
      case 'record':
      case 'error': {
        const full = this.fullName(s, namespace);
        const ns = full.includes('.') ? full.slice(0, full.lastIndexOf('.')) : undefined;
        // Register first so recursive references resolve; fill the code afterwards.
        const tsName = this.register(full, '', s);
        const entry = this.named.get(full)!;
        if (entry.code !== '') return tsName;
        entry.code = '\u0000pending';
        const fields = (s.fields as Json[])
          .map((f) => {
            const t = this.typeOf(f.type, ns);
            return `${docComment(f.doc, '  ')}  ${quoteKey(f.name)}: ${t};\n`;
          })
          .join('');
        entry.code = `${docComment(s.doc, '')}export interface ${tsName} {\n${fields}}\n`;
        return tsName;
      }
      case 'enum': {
        const full = this.fullName(s, namespace);
        const symbols = (s.symbols as string[]).map((x) => JSON.stringify(x)).join(' | ');
        return this.register(
          full,
          `${docComment(s.doc, '')}export type ${full.slice(full.lastIndexOf('.') + 1)} = ${symbols};\n`,
          s,
        );
      }
      case 'fixed': {
        const full = this.fullName(s, namespace);
        return this.register(
          full,
          `${docComment(s.doc, '')}export type ${full.slice(full.lastIndexOf('.') + 1)} = Buffer;\n`,
          s,
        );
      }
      case 'array': {
        const items = this.typeOf(s.items, namespace);
        return /[ |]/.test(items) ? `Array<${items}>` : `${items}[]`;
      }
      case 'map':
        return `Record<string, ${this.typeOf(s.values, namespace)}>`;
      default:
        if (typeof s.type === 'string' || Array.isArray(s.type) || typeof s.type === 'object')
          return this.typeOf(s.type, namespace);
        throw new Error(`${this.file}: unsupported schema ${JSON.stringify(s).slice(0, 80)}`);
    }
  }
}

/** Source text of `src/domain/types.generated.ts` for the current `schemas/*.avsc`. */
export function generateTypes(schemasDir: string = SCHEMAS_DIR): string {
  const files = readdirSync(schemasDir)
    .filter((f) => f.endsWith('.avsc'))
    .sort();
  const collector = new Collector();
  const topLevel = new Map<string, string>();
  for (const file of files) {
    collector.file = file;
    const schema = JSON.parse(readFileSync(`${schemasDir}${schemasDir.endsWith('/') ? '' : '/'}${file}`, 'utf8'));
    const tsName = collector.typeOf(schema, undefined);
    topLevel.set(file, tsName);
  }
  let out =
    '// GENERATED FILE, DO NOT EDIT.\n' +
    '// Generated by scripts/generateTypes.ts from schemas/*.avsc; regenerate with `npm run gen:types`\n' +
    '// (node scripts/generateTypes.ts). test/unit/domain/typesDrift.test.ts fails when it drifts.\n' +
    '// Decimals are strings with exactly `scale` fractional digits; timestamps are epoch milliseconds.\n\n';
  const needsBuffer = [...collector.named.values()].some((n) => /\bBuffer\b/.test(n.code));
  if (needsBuffer) out += "import type { Buffer } from 'node:buffer';\n\n";
  let lastFile = '';
  for (const full of collector.order) {
    const entry = collector.named.get(full)!;
    if (entry.file !== lastFile) {
      out += `// ---- schemas/${entry.file}\n\n`;
      lastFile = entry.file;
    }
    out += `${entry.code}\n`;
  }
  const topics = Object.entries(SCHEMA_FILES).filter(([, file]) => topLevel.has(file));
  out += '/** Value type of each topic with an Avro value schema (silver topics reuse the oltp row types). */\n';
  out += 'export interface ValueTypeByTopic {\n';
  for (const [topic, file] of topics) out += `  ${JSON.stringify(topic)}: ${topLevel.get(file)};\n`;
  out += '}\n';
  return out;
}

if (import.meta.main) {
  const text = generateTypes();
  writeFileSync(OUTPUT_PATH, text);
  console.log(`wrote ${OUTPUT_PATH} (${text.split('\n').length - 1} lines)`);
}
