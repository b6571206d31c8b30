/**
 * Preload for a Herald child on PostgreSQL (`node --import bench/lib/pg-trace.mjs main.js`,
 * bench flag --sql-trace in the scale-out mode): counts every query node-postgres sends and
 * the time until its answer (a round trip: the client's share and PostgreSQL's), aggregated
 * by statement text (`$1, $2, …` lists folded), so the bench can say how many statements a
 * message or a delivery costs and which ones take the time. Plain JS so it needs no loader.
 * It writes the same JSON as sql-trace.mjs (SQLite), so sql-summary.ts reads both.
 *
 * SIGUSR2 toggles recording: the first one resets the counters and starts, the second stops.
 * On exit the numbers of the recorded window are written to $BENCH_SQL_TRACE (JSON).
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const out = process.env.BENCH_SQL_TRACE;
const require = createRequire(join(process.cwd(), 'package.json'));
const pg = require('pg');

/** @type {Map<string, {calls: number, ns: bigint, rows: number}>} */
let stats = new Map();
let recording = false;
let windowStart = 0n;
let windowNs = 0n;
const folded = new Map();

function fold(sql) {
  let f = folded.get(sql);
  if (f === undefined) {
    f = sql
      .replace(/\s+/g, ' ')
      .replace(/\$\d+(?:::\w+)?(?:\s*,\s*\$\d+(?:::\w+)?)+/g, '$…')
      .replace(/\(\$…\)(?:\s*,\s*\(\$…\))+/g, '($…)…')
      .replace(/'[^']*'/g, "'…'")
      .trim();
    if (folded.size > 10_000) folded.clear();
    folded.set(sql, f);
  }
  return f;
}

function record(sql, t0, res) {
  const key = fold(sql);
  let e = stats.get(key);
  if (!e) {
    e = { calls: 0, ns: 0n, rows: 0 };
    stats.set(key, e);
  }
  e.calls++;
  e.ns += process.hrtime.bigint() - t0;
  if (res && typeof res.rowCount === 'number') e.rows += res.rowCount;
}

const original = pg.Client.prototype.query;
pg.Client.prototype.query = function tracedQuery(config, values, callback) {
  const sql = typeof config === 'string' ? config : config?.text;
  if (!recording || typeof sql !== 'string') return original.call(this, config, values, callback);
  const t0 = process.hrtime.bigint();
  const cb = typeof values === 'function' ? values : callback;
  if (typeof cb === 'function') {
    const wrapped = (err, res) => {
      record(sql, t0, res);
      cb(err, res);
    };
    return typeof values === 'function'
      ? original.call(this, config, wrapped)
      : original.call(this, config, values, wrapped);
  }
  const res = original.call(this, config, values);
  if (res && typeof res.then === 'function')
    res.then(
      (r) => record(sql, t0, r),
      () => record(sql, t0, null),
    );
  return res;
};

process.on('SIGUSR2', () => {
  if (!recording) {
    stats = new Map();
    windowStart = process.hrtime.bigint();
    recording = true;
  } else {
    recording = false;
    windowNs = process.hrtime.bigint() - windowStart;
  }
});

process.on('exit', () => {
  if (!out) return;
  if (recording) windowNs = process.hrtime.bigint() - windowStart;
  const statements = [...stats].map(([sql, e]) => ({
    sql,
    calls: e.calls,
    ms: Number(e.ns) / 1e6,
    prepares: 0,
    prepareMs: 0,
    rows: e.rows,
  }));
  writeFileSync(out, JSON.stringify({ windowMs: Number(windowNs) / 1e6, loop: null, statements }));
});
