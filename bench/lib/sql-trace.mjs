/**
 * Preload for the Herald child (`node --import bench/lib/sql-trace.mjs main.js`, bench flag
 * --sql-trace): times every better-sqlite3 prepare / run / all / get / iterate on the main
 * thread, aggregated by statement text (long `?, ?, …` lists folded), so the bench can say
 * WHICH statements the SQLite time of a scenario goes to. Plain JS so it needs no loader.
 *
 * It also records how long the event loop was kept from timers and I/O in the window (a 5 ms
 * interval's gaps), whether by synchronous work or by an unbroken chain of microtasks — the
 * latter is invisible to a CPU profile but stops HTTP requests just the same.
 *
 * SIGUSR2 toggles recording: the first one resets the counters and starts, the second stops.
 * On exit the numbers of the recorded window are written to $BENCH_SQL_TRACE (JSON).
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { setInterval, clearInterval } from 'node:timers';

const out = process.env.BENCH_SQL_TRACE;
const require = createRequire(join(process.cwd(), 'package.json'));
const Database = require('better-sqlite3');

/** @type {Map<string, {calls: number, ns: bigint, prepares: number, prepareNs: bigint, rows: number}>} */
let stats = new Map();
let recording = false;
let windowStart = 0n;
let windowNs = 0n;
const TICK_MS = 5;
let ticker = null;
let lastTick = 0;
let gaps = [];

function tick() {
  const now = performance.now();
  gaps.push(now - lastTick);
  lastTick = now;
}

const folded = new Map();

function fold(sql) {
  let f = folded.get(sql);
  if (f === undefined) {
    f = foldText(sql);
    if (folded.size > 10_000) folded.clear();
    folded.set(sql, f);
  }
  return f;
}

function foldText(sql) {
  return sql
    .replace(/\s+/g, ' ')
    .replace(/\?(?:\s*,\s*\?)+/g, '?…')
    .replace(/\((?:\?…|\?)\)(?:\s*,\s*\((?:\?…|\?)\))+/g, '(?…)…')
    .replace(/'[^']*'/g, "'…'")
    .trim();
}

function entry(sql) {
  const key = fold(sql);
  let e = stats.get(key);
  if (!e) {
    e = { calls: 0, ns: 0n, prepares: 0, prepareNs: 0n, rows: 0 };
    stats.set(key, e);
  }
  return e;
}

let patchedProto = null;

function patchStatement(proto) {
  if (patchedProto === proto) return;
  patchedProto = proto;
  for (const method of ['run', 'all', 'get', 'iterate']) {
    const original = proto[method];
    if (typeof original !== 'function') continue;
    proto[method] = function traced(...args) {
      if (!recording) return original.apply(this, args);
      const t0 = process.hrtime.bigint();
      try {
        const res = original.apply(this, args);
        const e = entry(this.source);
        e.calls++;
        if (Array.isArray(res)) e.rows += res.length;
        return res;
      } finally {
        entry(this.source).ns += process.hrtime.bigint() - t0;
      }
    };
  }
}

const originalPrepare = Database.prototype.prepare;
Database.prototype.prepare = function tracedPrepare(sql, ...rest) {
  const t0 = process.hrtime.bigint();
  const stmt = originalPrepare.call(this, sql, ...rest);
  patchStatement(Object.getPrototypeOf(stmt));
  if (recording) {
    const e = entry(sql);
    e.prepares++;
    e.prepareNs += process.hrtime.bigint() - t0;
  }
  return stmt;
};

process.on('SIGUSR2', () => {
  if (!recording) {
    stats = new Map();
    windowStart = process.hrtime.bigint();
    recording = true;
    gaps = [];
    lastTick = performance.now();
    ticker = setInterval(tick, TICK_MS);
  } else {
    recording = false;
    windowNs = process.hrtime.bigint() - windowStart;
    clearInterval(ticker);
    tick();
  }
});

process.on('exit', () => {
  if (!out) return;
  if (recording) windowNs = process.hrtime.bigint() - windowStart;
  const statements = [...stats].map(([sql, e]) => ({
    sql,
    calls: e.calls,
    ms: Number(e.ns) / 1e6,
    prepares: e.prepares,
    prepareMs: Number(e.prepareNs) / 1e6,
    rows: e.rows,
  }));
  const sorted = [...gaps].sort((a, b) => a - b);
  const pct = (p) => Math.round((sorted[Math.floor((sorted.length - 1) * p)] ?? 0) * 10) / 10;
  const blocked = gaps.filter((g) => g > 50);
  writeFileSync(
    out,
    JSON.stringify({
      windowMs: Number(windowNs) / 1e6,
      loop: {
        tickMs: TICK_MS,
        ticks: gaps.length,
        gapP50Ms: pct(0.5),
        gapP99Ms: pct(0.99),
        gapMaxMs: pct(1),
        over50ms: blocked.length,
        msInGapsOver50ms: Math.round(blocked.reduce((a, b) => a + b, 0)),
      },
      statements,
    }),
  );
});
