/**
 * The steps of a broadcast scenario, whatever runs Herald (one process on SQLite, or an api
 * and workers on PostgreSQL + RabbitMQ): N generated users imported over HTTP
 * (`POST /v1/users/import` in chunks), then ONE message to exactly them
 * (`filter: {attributes: {bench: 'yes'}}`) on in_app + sms (the sandbox provider), polled (every
 * 100 ms unless told) until every delivery is final.
 */
import { expectStatus, requestJson, sleep } from '../lib/http.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

export interface MessageView {
  status: string;
  recipients: number;
  totals: Record<string, number>;
  counts: Record<string, Record<string, number>>;
}

/** Deterministic generated students: phones (SMS goes to the sandbox), attribute bench=yes. */
export function generatedUsers(from: number, count: number) {
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

/** Imports `users` generated users in chunks of `chunk`; fails unless every one is created. */
export async function importUsers(
  url: string,
  adminToken: string,
  users: number,
  chunk: number,
): Promise<{ ms: number; chunks: number }> {
  const started = performance.now();
  let chunks = 0;
  for (let from = 0; from < users; from += chunk) {
    const count = Math.min(chunk, users - from);
    const res = await expectStatus<{ created: number; updated: number; failed: number }>(
      `import users ${from}..${from + count - 1}`,
      200,
      requestJson('POST', `${url}/v1/users/import`, {
        token: adminToken,
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
  return { ms: performance.now() - started, chunks };
}

export interface BroadcastPoll {
  readonly messageId: string;
  /** Monotonic ms (performance.now) just before the POST. */
  readonly postedAt: number;
  readonly postMs: number;
  /** POST sent → first poll that saw every delivery final; null: timed out. */
  readonly finalS: number | null;
  /** POST sent → first poll that saw the fan-out finished (`dispatched`). */
  readonly fanoutDoneS: number | null;
  readonly view: MessageView | null;
  readonly polls: number;
  /** Polls answered 503 (database unreachable) and retried, with tolerateUnavailable. */
  readonly unavailable: number;
  /** Response times of GET /v1/messages/{id}: the API's responsiveness meanwhile. */
  readonly pollLatencyMs: { readonly p50: number; readonly max: number; readonly first: number };
}

/**
 * Sends the broadcast with `token` (a source key) and polls it every `pollMs` (100) until it is
 * `completed` with `expected` deliveries, or `timeoutS` passed. `check` runs before each poll
 * (it throws when a process under test died).
 */
export async function sendAndPoll(opts: {
  url: string;
  token: string;
  expected: number;
  timeoutS: number;
  log: (line: string) => void;
  check: () => void;
  /** Keep polling through 503 answers (counted): PostgreSQL may be restarted by others. */
  tolerateUnavailable?: boolean;
  /**
   * Interval of the polls. Each one counts the message's deliveries by status: on PostgreSQL
   * that is ~30 ms of database work at 60,000 deliveries, which a 100 ms poll takes from
   * the broadcast it measures.
   */
  pollMs?: number;
}): Promise<BroadcastPoll> {
  const { url, token, expected, log } = opts;
  const every = opts.pollMs ?? 100;
  const postedAt = performance.now();
  const accepted = await expectStatus<{ id: string }>(
    'broadcast send',
    202,
    requestJson('POST', `${url}/v1/messages`, {
      token,
      body: {
        category: 'exam.reminder',
        to: { filter: { attributes: { bench: 'yes' } } },
        channels: ['in_app', 'sms'],
        data: DEMO_EXAMPLES['exam.reminder'],
      },
    }),
  );
  const postMs = performance.now() - postedAt;
  log(
    `  broadcast: message ${accepted.id} accepted in ${postMs.toFixed(0)} ms; polling every ${every} ms`,
  );

  let view: MessageView | null = null;
  let finalS: number | null = null;
  let fanoutDoneS: number | null = null;
  let polls = 0;
  let unavailable = 0;
  const pollMs: number[] = [];
  let lastLog = performance.now();
  const deadline = postedAt + opts.timeoutS * 1000;
  while (performance.now() < deadline) {
    const tick = performance.now();
    opts.check();
    const res = requestJson<MessageView>('GET', `${url}/v1/messages/${accepted.id}`, {
      token,
      timeoutMs: 30_000,
    });
    if (opts.tolerateUnavailable && (await res).status === 503) {
      // Another user of the machine restarted the database: the run is disturbed, not broken.
      unavailable++;
      await sleep(250);
      continue;
    }
    view = await expectStatus<MessageView>('poll message', 200, res);
    polls++;
    const seen = performance.now();
    pollMs.push(seen - tick);
    const total = Object.values(view.totals).reduce((a, b) => a + b, 0);
    if (fanoutDoneS === null && (view.status === 'dispatched' || view.status === 'completed')) {
      fanoutDoneS = (seen - postedAt) / 1000;
    }
    if (view.status === 'completed' && total === expected) {
      finalS = (seen - postedAt) / 1000;
      break;
    }
    if (view.status === 'completed' && total !== expected) {
      throw new Error(
        `message completed with ${total} deliveries, expected ${expected}: ${JSON.stringify(view.totals)}`,
      );
    }
    if (seen - lastLog > 5_000) {
      lastLog = seen;
      log(
        `  broadcast: ${((seen - postedAt) / 1000).toFixed(0)} s, ${view.status}, ${JSON.stringify(view.totals)}`,
      );
    }
    await sleep(Math.max(0, every - (performance.now() - tick)));
  }
  return {
    messageId: accepted.id,
    postedAt,
    postMs,
    finalS,
    fanoutDoneS,
    view,
    polls,
    unavailable,
    pollLatencyMs: {
      p50: [...pollMs].sort((a, b) => a - b)[Math.floor(pollMs.length / 2)] ?? NaN,
      max: Math.max(...pollMs),
      first: pollMs[0] ?? NaN,
    },
  };
}
