/**
 * Scale-out ingest: the `ingest` load (autocannon, single-recipient in-app messages to random
 * demo users) against `herald api` on PostgreSQL + RabbitMQ, with `herald worker` processes
 * fanning out and delivering meanwhile. Each accepted message becomes two broker round trips
 * (its fan-out job, then a delivery job) and one delivery.
 *
 * End to end is read from the database: deliveries whose `final_at` falls in the measured
 * window, per second; after the load, the time until every accepted message's delivery is final.
 */
import type { BenchQuery } from '../lib/scale-services.js';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { summarizeSqlTrace, type SqlSummary } from '../lib/sql-summary.js';
import {
  expectStatus,
  requestJson,
  runAutocannon,
  sleep,
  summarizeLoad,
  type LoadSummary,
} from '../lib/http.js';
import { measureUsage, type UsageReport } from '../lib/process-usage.js';
import { measureTableWrites, type TableWrites } from '../lib/pg-table-stats.js';
import { startScenarioStack } from '../lib/scale-stack.js';
import {
  benchCpu,
  listUserIds,
  summarizeProfiles,
  monoUs,
  randomPostRequests,
  sendBody,
} from './common.js';
import type { ScaleOptions } from './scale-options.js';

export interface ScaleIngestResult {
  readonly runName: string;
  readonly workers: number;
  readonly demoUsers: number;
  readonly load: LoadSummary;
  /** Deliveries that became final during the measured load, per second. */
  readonly deliveredPerS: number;
  /** Messages accepted in the whole run (warm-up and probe included), from the database. */
  readonly acceptedTotal: number;
  readonly finalDeliveries: number;
  /** Seconds after the load until every accepted message's delivery was final; null: timed out. */
  readonly drainAfterLoadS: number | null;
  /** Herald CPU per accepted message during the load, µs (api + workers). */
  readonly cpuUsPerAccepted: number | null;
  readonly clientCpu: number;
  readonly usage: UsageReport;
  /** Warnings and errors Herald's processes logged, per process (count and last lines). */
  readonly logs: Record<string, { lines: number; last: string[] }>;
  /** Rows written per table during the measured load (and ~1 s after). */
  readonly tableWrites: TableWrites[];
  /** Statements per process in the window (--sql-trace): calls per message, round-trip time. */
  readonly sql: Record<string, SqlSummary | null>;
  readonly profiles: Record<string, ProfileSummary | null>;
}

async function counts(
  query: BenchQuery,
  window?: readonly [number, number],
): Promise<{ messages: number; final: number; finalInWindow: number }> {
  const [from, to] = window ?? [0, 0];
  const r = await query<{ messages: string; final: string; in_window: string }>(
    `select (select count(*) from messages) as messages,
            count(final_at) as final,
            count(*) filter (where final_at >= $1 and final_at < $2) as in_window
       from deliveries`,
    [from, to],
  );
  const row = r.rows[0]!;
  return {
    messages: Number(row.messages),
    final: Number(row.final),
    finalInWindow: Number(row.in_window),
  };
}

export async function runScaleIngest(opts: ScaleOptions): Promise<ScaleIngestResult> {
  const stack = await startScenarioStack(opts, 'ingest');
  let profiles: Record<string, string | null> | null = null;
  try {
    const { api } = stack;
    const jwc = api.keys.jwc!;
    const users = await listUserIds(api.url, api.adminToken);
    const bodies = users.map(sendBody);
    await expectStatus(
      'probe send',
      202,
      requestJson('POST', `${api.url}/v1/messages`, { token: jwc, body: JSON.parse(bodies[0]!) }),
    );
    const requests = randomPostRequests(jwc, bodies);
    const url = api.url;
    if (opts.warmup > 0) {
      opts.log(`  ingest: warm-up ${opts.warmup} s`);
      await runAutocannon({ url, connections: opts.connections, duration: opts.warmup, requests });
    }
    stack.check();

    opts.log(
      `  ingest: ${opts.duration} s at ${opts.connections} connections, ${users.length} demo users, ${opts.workers} workers`,
    );
    const writes = await measureTableWrites(stack.query, stack.spec.name);
    const usage = measureUsage(stack.processes());
    const client = benchCpu();
    stack.toggleSqlTrace();
    const from = monoUs();
    const wall0 = Date.now();
    const result = await runAutocannon({
      url,
      connections: opts.connections,
      duration: opts.duration,
      requests,
    });
    const wall1 = Date.now();
    const to = monoUs();
    stack.toggleSqlTrace();
    const loadEnded = performance.now();
    const clientCpu = client.stop();
    const report = usage.stop();
    const load = summarizeLoad(result);
    stack.check();
    const inWindow = await counts(stack.query, [wall0, wall1]);
    const tableWrites = await writes.stop();

    opts.log('  ingest: waiting until every accepted message is delivered');
    let last = inWindow;
    let drainAfterLoadS: number | null = null;
    const deadline = performance.now() + opts.drainTimeoutS * 1000;
    while (performance.now() < deadline) {
      stack.check();
      last = await counts(stack.query);
      if (last.messages > 0 && last.final >= last.messages) {
        drainAfterLoadS = (performance.now() - loadEnded) / 1000;
        break;
      }
      await sleep(250);
    }
    const logs = stack.logs();
    profiles = await stack.stop();
    const cpuS = report.processes.reduce((n, p) => n + (p.cpuS ?? 0), 0);
    return {
      runName: stack.spec.name,
      workers: opts.workers,
      demoUsers: users.length,
      load,
      deliveredPerS: inWindow.finalInWindow / ((wall1 - wall0) / 1000),
      acceptedTotal: last.messages,
      finalDeliveries: last.final,
      drainAfterLoadS,
      cpuUsPerAccepted: load.ok2xx > 0 ? (cpuS * 1e6) / load.ok2xx : null,
      clientCpu,
      usage: report,
      logs,
      tableWrites,
      sql: Object.fromEntries(
        Object.entries(stack.sqlTraceFiles).map(([name, file]) => [
          name,
          summarizeSqlTrace(file, 'message', load.ok2xx, opts.top),
        ]),
      ),
      profiles: summarizeProfiles(profiles, [from, to], opts.top),
    };
  } finally {
    if (!profiles) await stack.stop();
  }
}
