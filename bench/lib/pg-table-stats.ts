/**
 * Rows written per table of the run's schema over a window (PostgreSQL's cumulative
 * statistics, `pg_stat_user_tables`): where a scenario's database writes go. Backends report
 * their counts at the end of a transaction, at most once a second, so the reading after the
 * window waits that long first.
 */
import { sleep } from './http.js';
import type { BenchQuery } from './scale-services.js';

export interface TableWrites {
  readonly table: string;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
}

type Snapshot = Map<string, { ins: number; upd: number; del: number }>;

async function snapshot(query: BenchQuery, schema: string): Promise<Snapshot> {
  const r = await query<{ relname: string; ins: string; upd: string; del: string }>(
    `select relname, n_tup_ins as ins, n_tup_upd as upd, n_tup_del as del
       from pg_stat_user_tables where schemaname = $1`,
    [schema],
  );
  return new Map(
    r.rows.map((row) => [
      row.relname,
      { ins: Number(row.ins), upd: Number(row.upd), del: Number(row.del) },
    ]),
  );
}

export async function measureTableWrites(
  query: BenchQuery,
  schema: string,
): Promise<{ stop(): Promise<TableWrites[]> }> {
  await sleep(1_100);
  const before = await snapshot(query, schema);
  return {
    async stop() {
      await sleep(1_100);
      const after = await snapshot(query, schema);
      const out: TableWrites[] = [];
      for (const [table, a] of after) {
        const b = before.get(table) ?? { ins: 0, upd: 0, del: 0 };
        const w = {
          table,
          inserted: a.ins - b.ins,
          updated: a.upd - b.upd,
          deleted: a.del - b.del,
        };
        if (w.inserted + w.updated + w.deleted > 0) out.push(w);
      }
      return out.sort(
        (x, y) => y.inserted + y.updated + y.deleted - (x.inserted + x.updated + x.deleted),
      );
    },
  };
}

/** `deliveries 60,000 ins / 60,000 upd; inbox_items 30,000 ins; …` */
export function formatTableWrites(writes: readonly TableWrites[], per = 1): string {
  const n = (v: number) => (per === 1 ? Math.round(v).toLocaleString('en') : (v / per).toFixed(2));
  return writes
    .map((w) =>
      [
        w.table,
        w.inserted ? `${n(w.inserted)} ins` : '',
        w.updated ? `${n(w.updated)} upd` : '',
        w.deleted ? `${n(w.deleted)} del` : '',
      ]
        .filter(Boolean)
        .join(' '),
    )
    .join('; ');
}
