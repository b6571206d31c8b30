/**
 * (email b, c) A broadcast by email end to end: N generated users with addresses (imported
 * over HTTP), then ONE course-change message to exactly them on `email`, through a real
 * Herald child whose HERALD_SMTP_URL points at the bench's SMTP sink (another child) →
 * emails/s and the time from the POST until every delivery is final. With `failRate` the
 * sink refuses that share of transactions transiently (450 at RCPT or 451 after DATA, half
 * each): the deliveries go through Herald's retry policy, and the run reports the attempts
 * per delivery and what the sink got (duplicates included).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { newProfileDir, startHerald } from '../lib/child.js';
import { removeDir } from '../lib/cleanup.js';
import { expectStatus, requestJson, sleep } from '../lib/http.js';
import { readCpuSeconds, sampleMemory, type MemorySamples } from '../lib/procfs.js';
import { startSmtpSink, type SinkStats } from '../lib/smtp-sink.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { maybeSummarize, monoUs, type BenchOptions } from './common.js';

export interface EmailBroadcastResult {
  readonly users: number;
  readonly failRate: number;
  readonly retryBaseMs: number;
  readonly importS: number;
  /** Client view: POST → first poll (every 100 ms) that saw every delivery final. */
  readonly finalS: number | null;
  /** Server view: message created_at → the last delivery's final_at. */
  readonly serverFinalS: number | null;
  /** Server view: created_at → the first delivery's final_at (render + first batch sent). */
  readonly serverFirstFinalS: number | null;
  /** Mails the sink accepted ÷ finalS. */
  readonly emailsPerS: number | null;
  /** Mails the sink accepted ÷ (its last − its first acceptance): the steady sending rate. */
  readonly sinkRatePerS: number | null;
  readonly statuses: Record<string, number>;
  /** From the deliveries: attempts of the final ones. */
  readonly attempts: {
    readonly total: number;
    readonly perDelivery: number;
    readonly max: number;
    readonly histogram: Record<string, number>;
  };
  readonly sink: SinkStats;
  /** Mails accepted for a recipient that already had one (sent again after a lost reply). */
  readonly duplicates: number;
  readonly heraldCpuS: number | null;
  readonly cpuMsPerEmail: number | null;
  readonly sinkCpuS: number | null;
  readonly memory: MemorySamples;
  readonly timedOut: boolean;
  readonly profile: ProfileSummary | null;
}

interface MessageView {
  status: string;
  totals: Record<string, number>;
}

const FINAL = new Set(['sent', 'delivered', 'failed', 'dead', 'suppressed']);

/** Deterministic generated students with an email address and attribute bench=yes. */
function generatedUsers(from: number, count: number) {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const externalId = `E${String(i).padStart(7, '0')}`;
    return {
      externalId,
      name: `压测用户${i}`,
      roles: ['undergraduate'],
      orgPath: `压测学院/压测系/${2020 + (i % 5)}级${1 + (i % 40)}班`,
      attributes: { bench: 'yes' },
      locale: i % 10 === 0 ? 'en' : 'zh-CN',
      email: `${externalId.toLowerCase()}@stu.example.edu.cn`,
    };
  });
}

export async function runEmailBroadcast(
  opts: BenchOptions,
  failRate: number,
  /** HERALD_RETRY_BASE_MS of the Herald child: the first wait before a retry. */
  retryBaseMs: number,
): Promise<EmailBroadcastResult> {
  const label =
    failRate > 0 ? `email-broadcast-fail${Math.round(failRate * 100)}` : 'email-broadcast';
  const profileDir = opts.profileRoot ? newProfileDir(opts.profileRoot, label) : undefined;
  const sink = await startSmtpSink(0);
  let herald: Awaited<ReturnType<typeof startHerald>> | null = null;
  let stopped = false;
  try {
    herald = await startHerald({
      runtime: opts.runtime,
      profileDir,
      env: {
        HERALD_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
        HERALD_SMTP_FROM: 'XX农业大学 <noreply@example.edu.cn>',
        // Waits of base/2…base, then doubling, up to 8 × base.
        HERALD_RETRY_BASE_MS: String(retryBaseMs),
        HERALD_RETRY_CAP_MS: String(8 * retryBaseMs),
        // No HERALD_PUBLIC_URL: the banner would show it instead of the bound address, which
        // the bench reads. So the mails go without List-Unsubscribe (one short header).
      },
    });
    const h = herald;

    const importStart = performance.now();
    for (let from = 0; from < opts.users; from += opts.importChunk) {
      const count = Math.min(opts.importChunk, opts.users - from);
      const res = await expectStatus<{ created: number; failed: number }>(
        `import users ${from}..${from + count - 1}`,
        200,
        requestJson('POST', `${h.url}/v1/users/import`, {
          token: h.adminToken,
          body: generatedUsers(from, count),
          timeoutMs: 180_000,
        }),
      );
      if (res.created !== count || res.failed !== 0) {
        throw new Error(`import at ${from}: created ${res.created}, failed ${res.failed}`);
      }
    }
    const importS = (performance.now() - importStart) / 1000;
    opts.log(`  ${label}: imported ${opts.users} users in ${importS.toFixed(1)} s`);
    await sleep(500);
    // The sink starts refusing only now: connection checks at start-up stay clean.
    await sink.reset();
    await sink.setFailRate(failRate);

    const memory = sampleMemory(h.pid, 100);
    const cpu0 = readCpuSeconds(h.pid);
    const sinkCpu0 = readCpuSeconds(sink.child.pid);
    const from = monoUs();
    const t0 = performance.now();
    const accepted = await expectStatus<{ id: string }>(
      'email broadcast send',
      202,
      requestJson('POST', `${h.url}/v1/messages`, {
        token: h.keys.jwc!,
        body: {
          category: 'course.change',
          to: { filter: { attributes: { bench: 'yes' } } },
          channels: ['email'],
          data: DEMO_EXAMPLES['course.change'],
        },
      }),
    );

    let view: MessageView | null = null;
    let finalS: number | null = null;
    let lastLog = performance.now();
    const deadline = t0 + opts.broadcastTimeoutS * 1000;
    while (performance.now() < deadline) {
      const tick = performance.now();
      if (h.exited()) throw new Error(`Herald exited during the broadcast:\n${h.errors()}`);
      view = await expectStatus<MessageView>(
        'poll message',
        200,
        requestJson('GET', `${h.url}/v1/messages/${accepted.id}`, {
          token: h.keys.jwc!,
          timeoutMs: 30_000,
        }),
      );
      const seen = performance.now();
      const final = Object.entries(view.totals)
        .filter(([status]) => FINAL.has(status))
        .reduce((a, [, n]) => a + n, 0);
      if (view.status === 'completed' && final === opts.users) {
        finalS = (seen - t0) / 1000;
        break;
      }
      if (seen - lastLog > 5_000) {
        lastLog = seen;
        opts.log(
          `  ${label}: ${((seen - t0) / 1000).toFixed(0)} s, ${view.status}, ${JSON.stringify(view.totals)}`,
        );
      }
      await sleep(Math.max(0, 100 - (performance.now() - tick)));
    }
    const to = monoUs();
    const cpu1 = readCpuSeconds(h.pid);
    const sinkCpu1 = readCpuSeconds(sink.child.pid);
    const mem = memory.stop();
    const stats = await sink.stats();
    const stop = await h.stop();
    stopped = true;

    const db = new Database(join(h.dataDir, 'herald.db'), { readonly: true });
    const m = db.prepare('SELECT created_at FROM messages WHERE id = ?').get(accepted.id) as {
      created_at: number;
    };
    const times = db
      .prepare(
        'SELECT min(final_at) AS first, max(final_at) AS last, count(final_at) AS final FROM deliveries WHERE message_id = ?',
      )
      .get(accepted.id) as { first: number | null; last: number | null; final: number };
    const statuses = Object.fromEntries(
      (
        db
          .prepare(
            'SELECT status, count(*) AS n FROM deliveries WHERE message_id = ? GROUP BY status',
          )
          .all(accepted.id) as { status: string; n: number }[]
      ).map((r) => [r.status, r.n]),
    );
    const histogram = Object.fromEntries(
      (
        db
          .prepare(
            'SELECT attempts, count(*) AS n FROM deliveries WHERE message_id = ? GROUP BY attempts ORDER BY attempts',
          )
          .all(accepted.id) as { attempts: number; n: number }[]
      ).map((r) => [String(r.attempts), r.n]),
    );
    db.close();
    removeDir(h.dataDir);

    const totalAttempts = Object.entries(histogram).reduce((a, [k, n]) => a + Number(k) * n, 0);
    const cpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    const sinkSpanS =
      stats.firstAt !== null && stats.lastAt !== null ? (stats.lastAt - stats.firstAt) / 1000 : 0;
    return {
      users: opts.users,
      failRate,
      retryBaseMs,
      importS,
      finalS,
      serverFinalS:
        times.last !== null && times.final === opts.users
          ? (times.last - m.created_at) / 1000
          : null,
      serverFirstFinalS: times.first !== null ? (times.first - m.created_at) / 1000 : null,
      emailsPerS: finalS ? stats.accepted / finalS : null,
      sinkRatePerS: sinkSpanS > 0 ? stats.accepted / sinkSpanS : null,
      statuses,
      attempts: {
        total: totalAttempts,
        perDelivery: totalAttempts / opts.users,
        max: Math.max(...Object.keys(histogram).map(Number)),
        histogram,
      },
      sink: stats,
      duplicates: stats.accepted - stats.uniqueRecipients,
      heraldCpuS: cpuS,
      cpuMsPerEmail: cpuS !== null && stats.accepted > 0 ? (cpuS * 1000) / stats.accepted : null,
      sinkCpuS: sinkCpu0 !== null && sinkCpu1 !== null ? sinkCpu1 - sinkCpu0 : null,
      memory: mem,
      timedOut: finalS === null,
      profile: maybeSummarize(stop.profile, [from, to], opts.top),
    };
  } finally {
    if (herald && !stopped) await herald.close();
    await sink.stop();
  }
}
