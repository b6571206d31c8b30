/**
 * (b) Broadcast: N generated users (imported over HTTP, `POST /v1/users/import` in chunks), then
 * ONE message to exactly them (`filter: {attributes: {bench: 'yes'}}`) on in_app + sms (the
 * sandbox provider) → time from the POST until every delivery is final, deliveries/s, and the
 * peak RSS of the Herald process during that window.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { summarizeSqlTrace, type SqlSummary } from '../lib/sql-summary.js';
import { newProfileDir, startHerald } from '../lib/child.js';
import { removeDir } from '../lib/cleanup.js';
import { expectStatus, requestJson, sleep } from '../lib/http.js';
import { readCpuSeconds, sampleMemory, type MemorySamples } from '../lib/procfs.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { maybeSummarize, monoUs, toggleSqlTrace, type BenchOptions } from './common.js';

export interface BroadcastResult {
  readonly users: number;
  readonly expectedDeliveries: number;
  readonly import: { readonly ms: number; readonly usersPerS: number; readonly chunks: number };
  /** The POST of the broadcast itself. */
  readonly postMs: number;
  /** Client view: POST sent → first poll (every 100 ms) that saw every delivery final. */
  readonly finalS: number | null;
  /** Client view: POST sent → first poll that saw the fan-out finished (`dispatched`). */
  readonly fanoutDoneS: number | null;
  /** Server view, from the database: message created_at → the last delivery's final_at. */
  readonly serverFinalS: number | null;
  /** Server view: created_at → the message's last update (the fan-out marking it dispatched). */
  readonly serverFanoutS: number | null;
  /** Server view: created_at → the first delivery's final_at. */
  readonly serverFirstFinalS: number | null;
  readonly deliveriesPerS: number | null;
  readonly totals: Record<string, number>;
  readonly counts: Record<string, Record<string, number>>;
  readonly memory: MemorySamples;
  readonly heraldCpuS: number | null;
  readonly cpuUsPerDelivery: number | null;
  readonly polls: number;
  /** Response times of GET /v1/messages/{id} during the broadcast: the API's responsiveness. */
  readonly pollLatencyMs: { readonly p50: number; readonly max: number; readonly first: number };
  readonly timedOut: boolean;
  readonly profile: ProfileSummary | null;
  readonly sql: SqlSummary | null;
}

interface MessageView {
  status: string;
  recipients: number;
  totals: Record<string, number>;
  counts: Record<string, Record<string, number>>;
}

/** Deterministic generated students: phones (SMS goes to the sandbox), attribute bench=yes. */
function generatedUsers(from: number, count: number) {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      externalId: `B${String(i).padStart(7, '0')}`,
      name: `压测用户${i}`,
      roles: ['undergraduate'],
      orgPath: `压测学院/压测系/${2020 + (i % 5)}级${1 + (i % 40)}班`,
      attributes: { bench: 'yes', campus: i % 2 === 0 ? '北校区' : '南校区' },
      locale: i % 10 === 0 ? 'en' : 'zh-CN',
      phone: `139${String(i).padStart(8, '0')}`,
    };
  });
}

export async function runBroadcast(opts: BenchOptions): Promise<BroadcastResult> {
  const profileDir = opts.profileRoot ? newProfileDir(opts.profileRoot, 'broadcast') : undefined;
  const sqlTraceFile = opts.sqlTraceRoot
    ? join(opts.sqlTraceRoot, 'broadcast.sqltrace')
    : undefined;
  const herald = await startHerald({ runtime: opts.runtime, profileDir, sqlTraceFile });
  let stopped = false;
  try {
    // 1. Users, through the public import API.
    const importStart = performance.now();
    let chunks = 0;
    for (let from = 0; from < opts.users; from += opts.importChunk) {
      const count = Math.min(opts.importChunk, opts.users - from);
      const res = await expectStatus<{ created: number; updated: number; failed: number }>(
        `import users ${from}..${from + count - 1}`,
        200,
        requestJson('POST', `${herald.url}/v1/users/import`, {
          token: herald.adminToken,
          body: generatedUsers(from, count),
          timeoutMs: 180_000,
        }),
      );
      if (res.created !== count || res.failed !== 0) {
        throw new Error(
          `import chunk at ${from}: created ${res.created}, failed ${res.failed}, expected ${count}`,
        );
      }
      chunks++;
    }
    const importMs = performance.now() - importStart;
    opts.log(`  broadcast: imported ${opts.users} users in ${(importMs / 1000).toFixed(1)} s`);
    await sleep(500);

    // 2. One message to exactly those users, on two channels.
    const expected = opts.users * 2;
    const memory = sampleMemory(herald.pid, 100);
    const cpu0 = readCpuSeconds(herald.pid);
    toggleSqlTrace(opts, herald.pid);
    const from = monoUs();
    const t0 = performance.now();
    const accepted = await expectStatus<{ id: string }>(
      'broadcast send',
      202,
      requestJson('POST', `${herald.url}/v1/messages`, {
        token: herald.keys.jwc!,
        body: {
          category: 'exam.reminder',
          to: { filter: { attributes: { bench: 'yes' } } },
          channels: ['in_app', 'sms'],
          data: DEMO_EXAMPLES['exam.reminder'],
        },
      }),
    );
    const postMs = performance.now() - t0;
    opts.log(
      `  broadcast: message ${accepted.id} accepted in ${postMs.toFixed(0)} ms; polling every 100 ms`,
    );

    // 3. Poll until every delivery is final.
    let view: MessageView | null = null;
    let finalS: number | null = null;
    let fanoutDoneS: number | null = null;
    let polls = 0;
    const pollMs: number[] = [];
    let lastLog = performance.now();
    const deadline = t0 + opts.broadcastTimeoutS * 1000;
    while (performance.now() < deadline) {
      const tick = performance.now();
      if (herald.exited())
        throw new Error(`Herald exited during the broadcast:\n${herald.errors()}`);
      view = await expectStatus<MessageView>(
        'poll message',
        200,
        requestJson('GET', `${herald.url}/v1/messages/${accepted.id}`, {
          token: herald.keys.jwc!,
          timeoutMs: 30_000,
        }),
      );
      polls++;
      const seen = performance.now();
      pollMs.push(seen - tick);
      const total = Object.values(view.totals).reduce((a, b) => a + b, 0);
      if (fanoutDoneS === null && (view.status === 'dispatched' || view.status === 'completed')) {
        fanoutDoneS = (seen - t0) / 1000;
      }
      if (view.status === 'completed' && total === expected) {
        finalS = (seen - t0) / 1000;
        break;
      }
      if (view.status === 'completed' && total !== expected) {
        throw new Error(
          `message completed with ${total} deliveries, expected ${expected}: ${JSON.stringify(view.totals)}`,
        );
      }
      if (seen - lastLog > 5_000) {
        lastLog = seen;
        opts.log(
          `  broadcast: ${((seen - t0) / 1000).toFixed(0)} s, ${view.status}, ${JSON.stringify(view.totals)}`,
        );
      }
      await sleep(Math.max(0, 100 - (performance.now() - tick)));
    }
    const to = monoUs();
    toggleSqlTrace(opts, herald.pid);
    const cpu1 = readCpuSeconds(herald.pid);
    const mem = memory.stop();

    // 4. Stop Herald (writes the CPU profile), then read the precise server-side times.
    const stop = await herald.stop();
    stopped = true;
    let serverFinalS: number | null = null;
    let serverFanoutS: number | null = null;
    let serverFirstFinalS: number | null = null;
    try {
      const db = new Database(join(herald.dataDir, 'herald.db'), { readonly: true });
      const m = db
        .prepare('SELECT created_at, updated_at FROM messages WHERE id = ?')
        .get(accepted.id) as { created_at: number; updated_at: number } | undefined;
      const d = db
        .prepare(
          'SELECT count(*) AS n, count(final_at) AS final, min(final_at) AS first, max(final_at) AS last FROM deliveries WHERE message_id = ?',
        )
        .get(accepted.id) as {
        n: number;
        final: number;
        first: number | null;
        last: number | null;
      };
      db.close();
      if (m) {
        serverFanoutS = (m.updated_at - m.created_at) / 1000;
        if (d.first !== null) serverFirstFinalS = (d.first - m.created_at) / 1000;
        if (d.last !== null && d.final === expected) serverFinalS = (d.last - m.created_at) / 1000;
      }
    } catch (err) {
      opts.log(`  broadcast: could not read server-side times: ${(err as Error).message}`);
    }
    removeDir(herald.dataDir);

    const cpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    return {
      users: opts.users,
      expectedDeliveries: expected,
      import: { ms: importMs, usersPerS: opts.users / (importMs / 1000), chunks },
      postMs,
      finalS,
      fanoutDoneS,
      serverFinalS,
      serverFanoutS,
      serverFirstFinalS,
      deliveriesPerS: finalS ? expected / finalS : null,
      totals: view?.totals ?? {},
      counts: view?.counts ?? {},
      memory: mem,
      heraldCpuS: cpuS,
      cpuUsPerDelivery: cpuS !== null && finalS ? (cpuS * 1e6) / expected : null,
      polls,
      pollLatencyMs: {
        p50: [...pollMs].sort((a, b) => a - b)[Math.floor(pollMs.length / 2)] ?? NaN,
        max: Math.max(...pollMs),
        first: pollMs[0] ?? NaN,
      },
      timedOut: finalS === null,
      profile: maybeSummarize(stop.profile, [from, to], opts.top),
      sql: sqlTraceFile ? summarizeSqlTrace(sqlTraceFile, 'delivery', expected) : null,
    };
  } finally {
    if (!stopped) await herald.close();
  }
}
