import pg from 'pg';
import { requireServices, type Service } from '../cli/requireServices.ts';
import { type Config, pgConnection, secretOf } from '../config/config.ts';
import type { FreshnessSla } from '../quality/freshnessSlas.ts';
import { measureFreshness } from '../quality/measureFreshness.ts';
import { RegistryHttpError, registryHttp } from '../serde/registryHttp.ts';
import type { CatalogEntry, CatalogSchema, LiveStatus } from './catalogEntry.ts';

/**
 * What only the services know, added to the catalog's entries: the schema versions registered
 * under each subject, the freshness measured now, and whether each warehouse table exists (with
 * Postgres' row estimate, so a large table costs nothing). A service that does not answer makes
 * its facts `unavailable: <why>`, never a failure: the declared catalog stays useful in an outage.
 *
 * @example const live = await addLiveFacts(cfg, buildCatalog(inputs), cfg.freshnessSlas);
 */
export async function addLiveFacts(
  cfg: Config,
  entries: readonly CatalogEntry[],
  slas: readonly FreshnessSla[],
): Promise<CatalogEntry[]> {
  const [versions, freshness, tables] = await Promise.all([
    registryVersions(cfg, entries),
    measuredFreshness(cfg, entries, slas),
    warehouseTables(cfg, entries),
  ]);
  return entries.map((e) => ({
    ...e,
    schema: e.schema.subject ? (versions.get(e.schema.subject) ?? e.schema) : e.schema,
    freshness: e.freshness ? (freshness.get(e.freshness.subject) ?? e.freshness) : null,
    ...(e.warehouse ? { warehouse: tables.get(e.name) ?? e.warehouse } : {}),
  }));
}

/** Why `service` cannot be asked, or undefined when it answers (the one-shot commands' preflight). */
async function unavailable(cfg: Config, service: Service): Promise<LiveStatus | undefined> {
  try {
    await requireServices(cfg, [service]);
    return undefined;
  } catch (err) {
    return `unavailable: ${(err as Error).message}`;
  }
}

/** `GET /subjects/<subject>/versions` per subject (Confluent API); 404 is a subject never registered. */
async function registryVersions(cfg: Config, entries: readonly CatalogEntry[]): Promise<Map<string, CatalogSchema>> {
  const out = new Map<string, CatalogSchema>();
  const subjects = [...new Set(entries.flatMap((e) => (e.schema.subject ? [e.schema.subject] : [])))];
  const named = new Map(entries.map((e) => [e.schema.subject, e.schema.name]));
  const down = subjects.length ? await unavailable(cfg, 'registry') : undefined;
  const auth = cfg.registryUsername
    ? { username: cfg.registryUsername, password: secretOf(cfg, 'registryPassword') }
    : undefined;
  const http = registryHttp(cfg.registryUrl.replace(/\/+$/, ''), auth);
  await Promise.all(
    subjects.map(async (subject) => {
      const base = { name: named.get(subject) ?? null, subject };
      if (down) return out.set(subject, { ...base, status: down });
      try {
        const versions = await http<number[]>('GET', `/subjects/${encodeURIComponent(subject)}/versions`);
        out.set(subject, { ...base, versions: [...versions].sort((a, b) => a - b), status: 'ok' });
      } catch (err) {
        if (err instanceof RegistryHttpError && err.status === 404)
          out.set(subject, { ...base, versions: [], status: 'not registered' });
        else out.set(subject, { ...base, status: `unavailable: ${(err as Error).message}` });
      }
    }),
  );
  return out;
}

/** The SLAs that cover an entry, measured now; those whose service is down are `unavailable`. */
async function measuredFreshness(
  cfg: Config,
  entries: readonly CatalogEntry[],
  slas: readonly FreshnessSla[],
): Promise<Map<string, NonNullable<CatalogEntry['freshness']>>> {
  const out = new Map<string, NonNullable<CatalogEntry['freshness']>>();
  const covered = new Set(entries.flatMap((e) => (e.freshness ? [e.freshness.subject] : [])));
  const wanted = slas.filter((s) => covered.has(s.subject));
  const [kafkaDown, pgDown] = await Promise.all([
    wanted.some((s) => s.kind === 'topic') ? unavailable(cfg, 'kafka') : undefined,
    wanted.some((s) => s.kind === 'table') ? unavailable(cfg, 'postgres') : undefined,
  ]);
  const declared = new Map(entries.flatMap((e) => (e.freshness ? [[e.freshness.subject, e.freshness]] : [])));
  const measurable = wanted.filter((s) => !(s.kind === 'topic' ? kafkaDown : pgDown));
  for (const s of wanted) {
    const why = s.kind === 'topic' ? kafkaDown : pgDown;
    if (why)
      out.set(s.subject, {
        ...declared.get(s.subject)!,
        state: 'unavailable',
        detail: why.slice('unavailable: '.length),
      });
  }
  if (!measurable.length) return out;
  for (const r of await measureFreshness(cfg, measurable)) {
    out.set(r.subject, {
      ...declared.get(r.subject)!,
      state: r.state,
      ageSeconds: r.ageSeconds,
      ...(r.message || r.newest ? { detail: r.message ?? `newest ${r.newest}` } : {}),
    });
  }
  return out;
}

/** Whether each table entry exists in the warehouse database, and `pg_class.reltuples` (null: never analysed). */
async function warehouseTables(
  cfg: Config,
  entries: readonly CatalogEntry[],
): Promise<Map<string, NonNullable<CatalogEntry['warehouse']>>> {
  const out = new Map<string, NonNullable<CatalogEntry['warehouse']>>();
  const tables = entries.filter((e) => e.kind === 'table');
  if (!tables.length) return out;
  const down = await unavailable(cfg, 'postgres');
  const client = new pg.Client({
    ...pgConnection(cfg, cfg.warehouseDatabase),
    application_name: 'sluice-catalog',
    connectionTimeoutMillis: 5000,
  });
  try {
    if (down) throw new Error(down.slice('unavailable: '.length));
    await client.connect();
    const { rows } = await client.query<{ name: string; reltuples: number }>(
      `select 'warehouse:' || n.nspname || '.' || c.relname as name, c.reltuples::float8 as reltuples
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p')`,
    );
    const found = new Map(rows.map((r) => [r.name, r.reltuples]));
    for (const t of tables) {
      const estimate = found.get(t.name);
      out.set(t.name, {
        status: 'ok',
        exists: estimate !== undefined,
        ...(estimate !== undefined ? { rowsEstimate: estimate < 0 ? null : Math.round(estimate) } : {}),
      });
    }
  } catch (err) {
    for (const t of tables) out.set(t.name, { status: `unavailable: ${(err as Error).message}` });
  } finally {
    if (!down) await client.end().catch(() => {});
  }
  return out;
}
