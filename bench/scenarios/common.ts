import type { AutocannonRequest } from 'autocannon';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import type { Runtime } from '../lib/child.js';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { summarizeProfile } from '../lib/cpu-profile.js';
import { expectStatus, requestJson } from '../lib/http.js';

export interface BenchOptions {
  readonly runtime: Runtime;
  /** Seconds of measured load (ingest and ceiling). */
  readonly duration: number;
  /** Seconds of unmeasured load before it (JIT, caches). */
  readonly warmup: number;
  readonly connections: number;
  readonly users: number;
  readonly importChunk: number;
  readonly broadcastTimeoutS: number;
  readonly drainTimeoutS: number;
  /** Where --cpu-prof writes, per scenario; null: no profiling. */
  readonly profileRoot: string | null;
  /** Where sql-trace.mjs writes, per scenario; null: no SQL tracing. */
  readonly sqlTraceRoot: string | null;
  readonly top: number;
  readonly log: (line: string) => void;
}

/** The send body of the ingest scenario: one recipient, in-app only, a real demo category. */
export function sendBody(externalId: string): string {
  return JSON.stringify({
    category: 'exam.reminder',
    to: { users: [externalId] },
    channels: ['in_app'],
    data: DEMO_EXAMPLES['exam.reminder'],
  });
}

/** External ids of every user (the demo's), page by page through `GET /v1/users`. */
export async function listUserIds(url: string, adminToken: string): Promise<string[]> {
  const users: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: { externalId: string }[]; nextCursor: string | null } = await expectStatus(
      'list users',
      200,
      requestJson(
        'GET',
        `${url}/v1/users?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { token: adminToken },
      ),
    );
    users.push(...page.items.map((u) => u.externalId));
    cursor = page.nextCursor;
  } while (cursor);
  return users;
}

/** One autocannon request that POSTs a random body of `bodies` each time. */
export function randomPostRequests(token: string, bodies: readonly string[]): AutocannonRequest[] {
  return [
    {
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      setupRequest: (request) => {
        request.body = bodies[Math.floor(Math.random() * bodies.length)]!;
        return request;
      },
    },
  ];
}

/** Toggles sql-trace.mjs recording in the child (only when it was preloaded). */
export function toggleSqlTrace(opts: BenchOptions, pid: number): void {
  if (opts.sqlTraceRoot) process.kill(pid, 'SIGUSR2');
}

/** Monotonic microseconds, the clock V8's CPU profiles use on Linux. */
export function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function maybeSummarize(
  profile: string | null,
  window: readonly [number, number],
  top: number,
): ProfileSummary | null {
  if (!profile) return null;
  return summarizeProfile(profile, { window, top });
}

/** maybeSummarize for each process of a scale-out stack (its main-thread profile, or none). */
export function summarizeProfiles(
  profiles: Record<string, string | null>,
  window: readonly [number, number],
  top: number,
): Record<string, ProfileSummary | null> {
  return Object.fromEntries(
    Object.entries(profiles).map(([name, file]) => [name, maybeSummarize(file, window, top)]),
  );
}

/** The CPU the bench process itself (autocannon) used, as a share of one core. */
export function benchCpu(): { stop(): number } {
  const start = process.cpuUsage();
  const t0 = performance.now();
  return {
    stop() {
      const used = process.cpuUsage(start);
      const ms = performance.now() - t0;
      return ms > 0 ? (used.user + used.system) / 1000 / ms : 0;
    },
  };
}

/** Prometheus text → sum of a counter over series whose labels pass `keep`. */
export function sumMetric(
  text: string,
  name: string,
  keep: (labels: Record<string, string>) => boolean = () => true,
): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    if (keep(labels)) sum += Number(m[3]);
  }
  return sum;
}
