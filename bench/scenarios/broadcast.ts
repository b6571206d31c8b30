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
import { sleep } from '../lib/http.js';
import { readCpuSeconds, sampleMemory, type MemorySamples } from '../lib/procfs.js';
import { maybeSummarize, monoUs, toggleSqlTrace, type BenchOptions } from './common.js';
import { importUsers, sendAndPoll } from './broadcast-steps.js';

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

export async function runBroadcast(opts: BenchOptions): Promise<BroadcastResult> {
  const profileDir = opts.profileRoot ? newProfileDir(opts.profileRoot, 'broadcast') : undefined;
  const sqlTraceFile = opts.sqlTraceRoot
    ? join(opts.sqlTraceRoot, 'broadcast.sqltrace')
    : undefined;
  const herald = await startHerald({ runtime: opts.runtime, profileDir, sqlTraceFile });
  let stopped = false;
  try {
    // 1. Users, through the public import API.
    const imported = await importUsers(herald.url, herald.adminToken, opts.users, opts.importChunk);
    opts.log(`  broadcast: imported ${opts.users} users in ${(imported.ms / 1000).toFixed(1)} s`);
    await sleep(500);

    // 2. One message to exactly those users, on two channels; 3. poll until every delivery is final.
    const expected = opts.users * 2;
    const memory = sampleMemory(herald.pid, 100);
    const cpu0 = readCpuSeconds(herald.pid);
    toggleSqlTrace(opts, herald.pid);
    const from = monoUs();
    const poll = await sendAndPoll({
      url: herald.url,
      token: herald.keys.jwc!,
      expected,
      timeoutS: opts.broadcastTimeoutS,
      log: opts.log,
      check: () => {
        if (herald.exited())
          throw new Error(`Herald exited during the broadcast:\n${herald.errors()}`);
      },
    });
    const { finalS, view } = poll;
    const accepted = { id: poll.messageId };
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
      import: {
        ms: imported.ms,
        usersPerS: opts.users / (imported.ms / 1000),
        chunks: imported.chunks,
      },
      postMs: poll.postMs,
      finalS,
      fanoutDoneS: poll.fanoutDoneS,
      serverFinalS,
      serverFanoutS,
      serverFirstFinalS,
      deliveriesPerS: finalS ? expected / finalS : null,
      totals: view?.totals ?? {},
      counts: view?.counts ?? {},
      memory: mem,
      heraldCpuS: cpuS,
      cpuUsPerDelivery: cpuS !== null && finalS ? (cpuS * 1e6) / expected : null,
      polls: poll.polls,
      pollLatencyMs: poll.pollLatencyMs,
      timedOut: finalS === null,
      profile: maybeSummarize(stop.profile, [from, to], opts.top),
      sql: sqlTraceFile ? summarizeSqlTrace(sqlTraceFile, 'delivery', expected) : null,
    };
  } finally {
    if (!stopped) await herald.close();
  }
}
