/**
 * (a) Ingest: single-recipient in-app messages to random demo users, POSTed by autocannon at
 * N connections → accepted/s, latency, non-2xx. Herald's workers fan out and deliver the
 * accepted messages at the same time (that is the steady state); after the load the bench
 * waits until every accepted message's delivery is final and reports how long that took.
 */
import { join } from 'node:path';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { summarizeSqlTrace, type SqlSummary } from '../lib/sql-summary.js';
import { newProfileDir, startHerald } from '../lib/child.js';
import {
  expectStatus,
  requestJson,
  runAutocannon,
  sleep,
  summarizeLoad,
  type LoadSummary,
} from '../lib/http.js';
import { readCpuSeconds, sampleMemory, type MemorySamples } from '../lib/procfs.js';
import {
  benchCpu,
  listUserIds,
  maybeSummarize,
  monoUs,
  randomPostRequests,
  sendBody,
  sumMetric,
  toggleSqlTrace,
  type BenchOptions,
} from './common.js';

const FINAL = new Set(['sent', 'delivered', 'failed', 'dead', 'suppressed']);

export interface IngestResult {
  /** `all`: the scenario. `api`: diagnostic, the HTTP + group-commit path alone. */
  readonly role: 'all' | 'api';
  readonly demoUsers: number;
  readonly startupMs: number;
  readonly load: LoadSummary;
  /** Herald CPU per accepted message during the measured load, µs (all threads). */
  readonly cpuUsPerAccepted: number | null;
  /** Herald CPU use during the load, in cores (max 2 here). */
  readonly heraldCores: number | null;
  readonly clientCpu: number;
  readonly memory: MemorySamples;
  /** Messages accepted in the whole run (warm-up included), by Herald's own counter. */
  readonly acceptedTotal: number;
  /** Seconds after the load ended until every accepted message's delivery was final; null: timed out. */
  readonly drainAfterLoadS: number | null;
  readonly finalDeliveries: number;
  readonly profile: ProfileSummary | null;
  readonly sql: SqlSummary | null;
}

/**
 * @param role `all` is the scenario. `api` runs Herald without workers (nothing is
 * fanned out or delivered): what the HTTP + group-commit path costs on its own, i.e. the bound
 * ingest approaches if the workers ran off the API's thread.
 */
export async function runIngest(
  opts: BenchOptions,
  role: 'all' | 'api' = 'all',
): Promise<IngestResult> {
  const label = role === 'all' ? 'ingest' : 'ingest-api';
  const profileDir = opts.profileRoot ? newProfileDir(opts.profileRoot, label) : undefined;
  const sqlTraceFile = opts.sqlTraceRoot ? join(opts.sqlTraceRoot, `${label}.sqltrace`) : undefined;
  const herald = await startHerald({ runtime: opts.runtime, profileDir, sqlTraceFile, role });
  let closed = false;
  try {
    const jwc = herald.keys.jwc!;
    const users = await listUserIds(herald.url, herald.adminToken);
    const bodies = users.map(sendBody);
    await expectStatus(
      'probe send',
      202,
      requestJson('POST', `${herald.url}/v1/messages`, {
        token: jwc,
        body: JSON.parse(bodies[0]!),
      }),
    );

    const requests = randomPostRequests(jwc, bodies);
    const url = herald.url;
    if (opts.warmup > 0) {
      opts.log(`  ${label}: warm-up ${opts.warmup} s`);
      await runAutocannon({ url, connections: opts.connections, duration: opts.warmup, requests });
    }

    opts.log(
      `  ${label}: ${opts.duration} s at ${opts.connections} connections, ${users.length} demo users`,
    );
    const memory = sampleMemory(herald.pid, 100);
    const cpu0 = readCpuSeconds(herald.pid);
    const client = benchCpu();
    toggleSqlTrace(opts, herald.pid);
    const from = monoUs();
    const t0 = performance.now();
    const result = await runAutocannon({
      url,
      connections: opts.connections,
      duration: opts.duration,
      requests,
    });
    const loadEnded = performance.now();
    const to = monoUs();
    toggleSqlTrace(opts, herald.pid);
    const clientCpu = client.stop();
    const cpu1 = readCpuSeconds(herald.pid);
    const mem = memory.stop();
    const load = summarizeLoad(result);
    if (herald.exited()) throw new Error(`Herald exited during the load:\n${herald.errors()}`);

    // Let the backlog drain: every accepted message has one in-app delivery.
    if (role === 'all') opts.log('  ingest: waiting for the delivery backlog to drain');
    let acceptedTotal = 0;
    let finalDeliveries = 0;
    let drainAfterLoadS: number | null = null;
    const deadline = role === 'all' ? performance.now() + opts.drainTimeoutS * 1000 : 0;
    while (performance.now() < deadline) {
      const metrics = await requestJson<string>('GET', `${url}/metrics`, { timeoutMs: 10_000 });
      acceptedTotal = sumMetric(metrics.body, 'herald_messages_accepted_total');
      finalDeliveries = sumMetric(metrics.body, 'herald_deliveries_total', (l) =>
        FINAL.has(l.status ?? ''),
      );
      if (acceptedTotal > 0 && finalDeliveries >= acceptedTotal) {
        drainAfterLoadS = (performance.now() - loadEnded) / 1000;
        break;
      }
      await sleep(250);
    }
    const stopped = await herald.close();
    closed = true;
    const cpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    return {
      role,
      demoUsers: users.length,
      startupMs: herald.startupMs,
      load,
      cpuUsPerAccepted: cpuS !== null && load.ok2xx > 0 ? (cpuS * 1e6) / load.ok2xx : null,
      heraldCores: cpuS !== null ? cpuS / ((loadEnded - t0) / 1000) : null,
      clientCpu,
      memory: mem,
      acceptedTotal,
      drainAfterLoadS,
      finalDeliveries,
      profile: maybeSummarize(stopped.profile, [from, to], opts.top),
      sql: sqlTraceFile ? summarizeSqlTrace(sqlTraceFile, 'message', load.ok2xx) : null,
    };
  } finally {
    if (!closed) await herald.close();
  }
}
