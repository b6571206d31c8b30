/**
 * Scale-out broadcast: N generated users imported through `herald api`, then one message to
 * all of them on in_app + sms (sandbox), fanned out and delivered by the `herald worker`
 * processes over RabbitMQ → time from the POST until every delivery is final, deliveries/s,
 * and from the database the server-side times (created → fan-out done → last final).
 *
 * The fan-out job is one broker message; it writes the deliveries in batches of 1,000 users,
 * each batch with its delivery jobs (100 deliveries each) in the outbox; so 30,000 × 2
 * deliveries travel in 600 delivery-job messages.
 */
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { summarizeSqlTrace, type SqlSummary } from '../lib/sql-summary.js';
import { sleep } from '../lib/http.js';
import { measureUsage, type UsageReport } from '../lib/process-usage.js';
import { measureTableWrites, type TableWrites } from '../lib/pg-table-stats.js';
import { startScenarioStack } from '../lib/scale-stack.js';
import { monoUs, summarizeProfiles } from './common.js';
import { importUsers, sendAndPoll } from './broadcast-steps.js';
import type { ScaleOptions } from './scale-options.js';

export interface ScaleBroadcastResult {
  readonly runName: string;
  readonly workers: number;
  readonly users: number;
  readonly expectedDeliveries: number;
  readonly import: { readonly ms: number; readonly usersPerS: number; readonly chunks: number };
  readonly postMs: number;
  /** Client view: POST sent → first poll (every --poll-ms) that saw every delivery final. */
  readonly finalS: number | null;
  readonly fanoutDoneS: number | null;
  /** Server view: message created_at → its last update (the fan-out marking it dispatched). */
  readonly serverFanoutS: number | null;
  readonly serverFirstFinalS: number | null;
  /** Server view: created_at → the last delivery's final_at (exact; the target's measure). */
  readonly serverFinalS: number | null;
  /** What the target and deliveries/s use: serverFinalS, or finalS when it is unknown. */
  readonly measuredFinalS: number | null;
  /** Deliveries ÷ measuredFinalS. */
  readonly deliveriesPerS: number | null;
  /**
   * Delivery jobs (broker messages) the fan-out wrote, about: 100 deliveries per job and
   * channel, in batches of 1,000 users.
   */
  readonly deliveryJobs: number;
  readonly totals: Record<string, number>;
  readonly pollLatencyMs: { readonly p50: number; readonly max: number; readonly first: number };
  /** Polls answered 503 (PostgreSQL unreachable: restarted by another user of the machine). */
  readonly unavailablePolls: number;
  /** Herald CPU per delivery, µs (api + workers). */
  readonly cpuUsPerDelivery: number | null;
  readonly usage: UsageReport;
  /** Warnings and errors Herald's processes logged, per process (count and last lines). */
  readonly logs: Record<string, { lines: number; last: string[] }>;
  /** Rows written per table from the POST until every delivery was final (and ~1 s more). */
  readonly tableWrites: TableWrites[];
  /** Statements per process in the window (--sql-trace): calls per delivery, round-trip time. */
  readonly sql: Record<string, SqlSummary | null>;
  /** Deliveries that ended neither `delivered` nor `sent`, grouped with their reason and error. */
  readonly notDelivered: {
    channel: string;
    status: string;
    reason: string | null;
    last_error: string | null;
    n: number;
  }[];
  readonly profiles: Record<string, ProfileSummary | null>;
}

export async function runScaleBroadcast(opts: ScaleOptions): Promise<ScaleBroadcastResult> {
  const stack = await startScenarioStack(opts, 'broadcast');
  let profiles: Record<string, string | null> | null = null;
  try {
    const { api } = stack;
    const imported = await importUsers(api.url, api.adminToken, opts.users, opts.importChunk);
    opts.log(`  broadcast: imported ${opts.users} users in ${(imported.ms / 1000).toFixed(1)} s`);
    await sleep(500);
    stack.check();

    const expected = opts.users * 2;
    const writes = await measureTableWrites(stack.query, stack.spec.name);
    const usage = measureUsage(stack.processes());
    stack.toggleSqlTrace();
    const from = monoUs();
    const poll = await sendAndPoll({
      url: api.url,
      token: api.keys.jwc!,
      expected,
      timeoutS: opts.broadcastTimeoutS,
      log: opts.log,
      check: () => stack.check(),
      tolerateUnavailable: true,
      pollMs: opts.pollMs,
    });
    const to = monoUs();
    stack.toggleSqlTrace();
    const report = usage.stop();

    const server = await stack.query<{
      created_at: string;
      updated_at: string;
      n: string;
      final: string;
      first: string | null;
      last: string | null;
    }>(
      `select m.created_at, m.updated_at, count(d.id) as n, count(d.final_at) as final,
              min(d.final_at) as first, max(d.final_at) as last
         from messages m left join deliveries d on d.message_id = m.id
        where m.id = $1
        group by m.id`,
      [poll.messageId],
    );
    const notDelivered = await stack.query<{
      channel: string;
      status: string;
      reason: string | null;
      last_error: string | null;
      n: string;
    }>(
      `select channel, status, reason, last_error, count(*) as n from deliveries
        where message_id = $1 and status not in ('delivered', 'sent')
        group by 1, 2, 3, 4 order by 5 desc limit 10`,
      [poll.messageId],
    );
    const tableWrites = await writes.stop();
    const logs = stack.logs();
    profiles = await stack.stop();
    const row = server.rows[0];
    const created = row ? Number(row.created_at) : NaN;
    const seconds = (at: string | null | undefined) =>
      at === null || at === undefined || !row ? null : (Number(at) - created) / 1000;
    const cpuS = report.processes.reduce((n, p) => n + (p.cpuS ?? 0), 0);
    const serverFinal = row && Number(row.final) === expected ? seconds(row.last) : null;
    // Exact from the database when known, else as the polls saw it.
    const measuredFinalS = serverFinal ?? poll.finalS;
    return {
      runName: stack.spec.name,
      workers: opts.workers,
      users: opts.users,
      expectedDeliveries: expected,
      import: {
        ms: imported.ms,
        usersPerS: opts.users / (imported.ms / 1000),
        chunks: imported.chunks,
      },
      postMs: poll.postMs,
      finalS: poll.finalS,
      fanoutDoneS: poll.fanoutDoneS,
      serverFanoutS: seconds(row?.updated_at),
      serverFirstFinalS: seconds(row?.first),
      serverFinalS: serverFinal,
      measuredFinalS,
      deliveriesPerS: measuredFinalS ? expected / measuredFinalS : null,
      deliveryJobs: 2 * Math.ceil(opts.users / 100),
      totals: poll.view?.totals ?? {},
      pollLatencyMs: poll.pollLatencyMs,
      unavailablePolls: poll.unavailable,
      cpuUsPerDelivery: measuredFinalS ? (cpuS * 1e6) / expected : null,
      usage: report,
      logs,
      tableWrites,
      sql: Object.fromEntries(
        Object.entries(stack.sqlTraceFiles).map(([name, file]) => [
          name,
          summarizeSqlTrace(file, 'delivery', expected, opts.top),
        ]),
      ),
      notDelivered: notDelivered.rows.map((r) => ({ ...r, n: Number(r.n) })),
      profiles: summarizeProfiles(profiles, [from, to], opts.top),
    };
  } finally {
    if (!profiles) await stack.stop();
  }
}
