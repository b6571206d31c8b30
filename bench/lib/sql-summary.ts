/** Reads what sql-trace.mjs wrote and ranks statements by main-thread time. */
import { existsSync, readFileSync } from 'node:fs';

interface TracedStatement {
  readonly sql: string;
  readonly calls: number;
  readonly ms: number;
  readonly prepares: number;
  readonly prepareMs: number;
  readonly rows: number;
}

export interface SqlSummary {
  readonly windowMs: number;
  /** Gaps between firings of a 5 ms interval in the window: how long the loop was held. */
  readonly loop: {
    readonly tickMs: number;
    readonly ticks: number;
    readonly gapP50Ms: number;
    readonly gapP99Ms: number;
    readonly gapMaxMs: number;
    readonly over50ms: number;
    readonly msInGapsOver50ms: number;
  } | null;
  /** Time inside better-sqlite3 run/all/get/iterate (SQLite work incl. fsync at COMMIT). */
  readonly execMs: number;
  /** Time inside prepare (SQL compilation; Kysely prepares every query anew). */
  readonly prepareMs: number;
  readonly calls: number;
  readonly prepares: number;
  /** What one unit (an accepted message, a delivery) costs. */
  readonly unit: string;
  readonly units: number;
  readonly top: (TracedStatement & { readonly totalMs: number; readonly pct: number })[];
}

export function summarizeSqlTrace(
  file: string,
  unit: string,
  units: number,
  top = 12,
): SqlSummary | null {
  if (!existsSync(file)) return null;
  const data = JSON.parse(readFileSync(file, 'utf8')) as {
    windowMs: number;
    loop?: SqlSummary['loop'];
    statements: TracedStatement[];
  };
  const execMs = data.statements.reduce((a, s) => a + s.ms, 0);
  const prepareMs = data.statements.reduce((a, s) => a + s.prepareMs, 0);
  const total = execMs + prepareMs;
  return {
    windowMs: data.windowMs,
    loop: data.loop ?? null,
    execMs,
    prepareMs,
    calls: data.statements.reduce((a, s) => a + s.calls, 0),
    prepares: data.statements.reduce((a, s) => a + s.prepares, 0),
    unit,
    units,
    top: data.statements
      .map((s) => ({
        ...s,
        totalMs: s.ms + s.prepareMs,
        pct: total > 0 ? ((s.ms + s.prepareMs) / total) * 100 : 0,
      }))
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, top),
  };
}

/**
 * `engine` names what the time is: `SQLite exec` (sql-trace.mjs: time inside better-sqlite3)
 * or `PostgreSQL round trips` (pg-trace.mjs: query sent → answer, overlapping when several
 * connections work at once).
 */
export function formatSqlSummary(title: string, s: SqlSummary, engine = 'SQLite exec'): string {
  const per = (n: number) => (s.units > 0 ? (n / s.units).toFixed(2) : '?');
  const lines = [
    `${title}: window ${(s.windowMs / 1000).toFixed(1)} s; ${engine} ${(s.execMs / 1000).toFixed(2)} s + prepare ${(s.prepareMs / 1000).toFixed(2)} s ` +
      `(${Math.round(((s.execMs + s.prepareMs) / Math.max(1, s.windowMs)) * 100)}% of wall time); ` +
      `${s.calls.toLocaleString('en')} statements, ${s.prepares.toLocaleString('en')} prepares = ${per(s.calls)} statements per ${s.unit}`,
    ...(s.loop
      ? [
          `  event loop (gaps of a ${s.loop.tickMs} ms interval): p50 ${s.loop.gapP50Ms} ms, p99 ${s.loop.gapP99Ms} ms, ` +
            `longest ${s.loop.gapMaxMs} ms; ${s.loop.over50ms} gaps > 50 ms holding the loop ${(s.loop.msInGapsOver50ms / 1000).toFixed(1)} s ` +
            `of ${(s.windowMs / 1000).toFixed(1)} s`,
        ]
      : []),
    `   %time   total ms   calls  per ${s.unit.padEnd(9)} µs/call  prep µs  statement`,
    ...s.top.map(
      (t) =>
        `  ${t.pct.toFixed(1).padStart(5)}%  ${t.totalMs.toFixed(0).padStart(8)}  ${String(t.calls).padStart(6)}  ${per(t.calls).padStart(13)}  ${(t.calls ? (t.ms * 1000) / t.calls : 0).toFixed(0).padStart(7)}  ${(t.prepares ? (t.prepareMs * 1000) / t.prepares : 0).toFixed(0).padStart(7)}  ${t.sql.slice(0, 150)}`,
    ),
  ];
  return lines.join('\n');
}
