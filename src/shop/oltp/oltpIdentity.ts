import type pg from 'pg';

/**
 * Identity columns around bulk loads: rows copied with explicit ids get ids after the current
 * maximum, and the identity sequence is moved past them so the application's inserts do not collide.
 */

/** The id after the largest in `table` (1 when empty). */
export async function nextId(client: pg.Client, table: string, pk: string): Promise<number> {
  const { rows } = await client.query(`select coalesce(max(${pk}), 0)::bigint as m from ${table}`);
  return Number(rows[0].m) + 1;
}

/** Moves the identity sequence of `table.pk` to the largest id in the table. */
export async function syncIdentity(client: pg.Client, table: string, pk: string): Promise<void> {
  await client.query(
    `select setval(pg_get_serial_sequence('${table}', '${pk}'), ` +
      `greatest((select coalesce(max(${pk}), 0) from ${table}), 1), (select count(*) > 0 from ${table}))`,
  );
}
