/**
 * Herald as an operator runs it at scale: separate `herald api`, `herald worker` and `herald
 * scheduler` processes on one PostgreSQL schema and one RabbitMQ prefix. It checks that the
 * roles share the work (no duplicates, nothing lost), that an inbox stream on one API process
 * hears what was posted to the other, and that each role stops gracefully on SIGTERM: exit 0,
 * work in hand finished, work taken but not begun handed to the others, nothing stuck.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  launchHerald,
  spawnHerald,
  type ChildHerald,
  type HeraldRole,
} from '../support/test-herald.js';
import { skipUnless, TEST_BROKER_URL, TEST_DATABASE_URL } from '../support/services.js';
import { freshSchema, type FreshSchema } from '../support/fresh-postgres.js';
import { deleteBrokerObjects, heraldBrokerObjects, uniqueBrokerPrefix } from '../support/broker.js';
import { behaviours, FakeProvider } from '../support/fake-provider.js';
import { openSse } from '../support/sse-client.js';
import { check, formatCheck, type Received } from '../support/checker.js';
import { generateSecret } from '../../src/webhooks/standard-webhooks.js';

const CATEGORY = 'ops.drill';
const CHANNELS = ['in_app', 'webhook'] as const;
/** Messages of the sharing test, half through each API process, each to RECIPIENTS users. */
const MESSAGES = 300;
const RECIPIENTS = 4;
/** Broadcasts (to everyone) in flight when a worker is stopped. */
const BROADCASTS = 3;

type Send = ReturnType<typeof client>;

describe(
  'processes on PostgreSQL + RabbitMQ: 2 × herald api, 2 × herald worker, 1 × herald scheduler',
  { skip: await skipUnless('postgres', 'rabbitmq'), timeout: 180_000 },
  () => {
    let schema: FreshSchema;
    const prefix = uniqueBrokerPrefix();
    let fake: FakeProvider;
    /** The test's own view of Herald's schema (a pool: it outlives a PostgreSQL restart). */
    let db: pg.Pool;
    const dirs: string[] = [];
    const procs: ChildHerald[] = [];
    let api1: ChildHerald;
    let api2: ChildHerald;
    let worker1: ChildHerald;
    let worker2: ChildHerald;
    let scheduler: ChildHerald;
    let jwc = '';
    let password = '';
    let students: string[] = [];
    let everyone: string[] = [];
    /** Every message answered 202, and whom it must reach (external ids). */
    const recipientsOf = new Map<string, readonly string[]>();

    let env: Record<string, string>;
    const spawn = async (
      role: 'api' | 'worker' | 'scheduler',
      extra: Record<string, string> = {},
    ): Promise<ChildHerald> => {
      const dir = mkdtempSync(join(tmpdir(), `herald-processes-${role}-`));
      dirs.push(dir);
      const child = await spawnHerald(dir, { ...env, ...extra }, role);
      procs.push(child);
      return child;
    };
    const count = async (sql: string): Promise<number> =>
      Number((await db.query<{ n: string }>(sql)).rows[0]!.n);

    /** Sends one message through `send`; records it when accepted. */
    const post = async (send: Send, to: readonly string[], n: number, key?: string) => {
      const r = await send(
        'POST',
        '/v1/messages',
        { category: CATEGORY, to: { users: to }, data: { n } },
        key ? { 'idempotency-key': key } : {},
      );
      if (r.status === 202) recipientsOf.set(r.body.id as string, to);
      return r;
    };

    /**
     * The far side so far, checked against every accepted message: inbox rows and accepted
     * webhooks per (message, recipient, channel), and deliveries not yet final.
     */
    const reconcile = async () => {
      const inbox = await db.query<{ message_id: string; external_id: string }>(
        `select i.message_id, u.external_id from inbox_items i join users u on u.id = i.user_id`,
      );
      const received: Received[] = inbox.rows.map((r) => ({
        messageId: r.message_id,
        recipient: `${r.external_id}:in_app`,
      }));
      for (const request of fake.accepted()) {
        const data = (
          request.body as { data: { messageId: string; recipient: { externalId: string } } }
        ).data;
        received.push({
          messageId: data.messageId,
          recipient: `${data.recipient.externalId}:webhook`,
        });
      }
      return check({
        accepted: [...recipientsOf.keys()],
        recipientsOf: (m) => recipientsOf.get(m)!.flatMap((u) => CHANNELS.map((c) => `${u}:${c}`)),
        received,
        stuck: await count(`select count(*) n from deliveries where status = 'queued'`),
      });
    };
    /** Waits until every accepted message reached every recipient on both channels. */
    const allDelivered = async (timeoutMs: number, what: string) => {
      let last = await reconcile();
      await eventually(
        async () => {
          last = await reconcile();
          return last.lost === 0 && last.stuck === 0 ? true : undefined;
        },
        timeoutMs,
        `${what} (${formatCheck(last)})`,
      );
      return last;
    };

    before(async () => {
      schema = await freshSchema();
      fake = await FakeProvider.start({ secret: generateSecret() });
      env = {
        HERALD_DATABASE_URL: schema.url,
        HERALD_DATABASE_POOL_SIZE: '4',
        HERALD_BROKER_URL: TEST_BROKER_URL,
        HERALD_BROKER_PREFIX: prefix,
        HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
        HERALD_RETRY_BASE_MS: '100',
        HERALD_RETRY_CAP_MS: '1000',
      };
      db = new pg.Pool({
        connectionString: TEST_DATABASE_URL,
        options: `-c search_path=${schema.schema}`,
        max: 2,
      });
      // Other suites on this machine restart PostgreSQL now and then: drop the dead connection.
      db.on('error', () => undefined);
    });

    after(async () => {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      await db?.end();
      await fake?.close();
      await schema?.drop();
      await deleteBrokerObjects(heraldBrokerObjects(prefix));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it('two api processes start at once on an empty database: one seeds the demo, both serve; neither works on jobs', async () => {
      // Both are told to seed: the claim in the seeding transaction lets exactly one do it.
      [api1, api2] = await Promise.all([
        spawn('api', { HERALD_DEMO: 'true' }),
        spawn('api', { HERALD_DEMO: 'true' }),
      ]);
      const seeders = [api1, api2].filter((p) => /Demo university seeded/.test(p.output()));
      assert.equal(seeders.length, 1, 'exactly one process seeded the demo university');
      if (seeders[0] === api2) [api1, api2] = [api2, api1];
      jwc = /^\s+jwc\s+(hk_\S+)/m.exec(api1.output())![1]!;
      password = /every user's password: (\S+)/.exec(api1.output())![1]!;
      assert.equal(await count(`select count(*) n from sources`), 5, 'sources seeded once');

      await setUp(client(api1.url, ADMIN_TOKEN), fake.url, fake.secret!);
      const members = await client(api2.url, ADMIN_TOKEN)(
        'GET',
        '/v1/groups/class-2024-agronomy-1/members?limit=50',
      );
      students = members.body.items.map((u: { externalId: string }) => u.externalId);
      assert.ok(students.length >= 8, `the class has ${students.length} members`);
      everyone = (
        await db.query<{ external_id: string }>(`select external_id from users`)
      ).rows.map((r) => r.external_id);

      // Accepted by either API, published to the broker by its outbox relay — and left there:
      // an api process runs no workers.
      for (let i = 0; i < 10; i++) {
        const r = await post(client((i % 2 ? api2 : api1).url, jwc), students.slice(0, 2), i);
        assert.equal(r.status, 202, JSON.stringify(r.body));
      }
      await eventually(
        async () =>
          (await count(`select count(*) n from broker_outbox`)) === 0 ? true : undefined,
        10_000,
        'the api processes published their outbox',
      );
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(
        await count(`select count(*) n from deliveries`),
        0,
        'no fan-out without a worker',
      );
    });

    it(`${MESSAGES} messages posted through both APIs reach every recipient exactly once; both workers work; a stream on API #2 hears what API #1 took`, async () => {
      [worker1, worker2, scheduler] = await Promise.all([
        // Worker #1 logs at info: its stop says how many jobs it finished in hand.
        spawn('worker', {
          HERALD_OPS_PORT: '0',
          HERALD_WORKER_CONCURRENCY: '4',
          HERALD_LOG_LEVEL: 'info',
        }),
        spawn('worker', { HERALD_OPS_PORT: '0', HERALD_WORKER_CONCURRENCY: '4' }),
        spawn('scheduler', { HERALD_OPS_PORT: '0' }),
      ]);
      for (const p of [worker1, worker2, scheduler]) {
        assert.match(
          p.output(),
          /Herald (worker|scheduler) is running \(pid \d+\); metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/,
        );
        assert.equal((await fetch(`${p.opsUrl}/readyz`)).status, 200);
        assert.equal(
          (await fetch(`${p.opsUrl}/v1/messages`)).status,
          404,
          'no API on the ops port',
        );
      }

      const listener = students[0]!;
      const login = await client(api2.url)('POST', '/v1/auth/login', {
        externalId: listener,
        password,
      });
      assert.equal(login.status, 200);
      const stream = await openSse(`${api2.url}/v1/me/inbox/stream`, {
        authorization: `Bearer ${login.body.token}`,
      });

      const viaApi1: string[] = [];
      const send1 = client(api1.url, jwc);
      const send2 = client(api2.url, jwc);
      const started = performance.now();
      for (let wave = 0; wave < MESSAGES / 30; wave++) {
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => {
            const n = wave * 30 + i;
            const to = Array.from(
              { length: RECIPIENTS },
              (_, k) => students[(n + k) % students.length]!,
            );
            return post(n % 2 ? send2 : send1, to, n).then((r) => ({ r, n, to }));
          }),
        );
        for (const { r, n, to } of results) {
          assert.equal(r.status, 202, JSON.stringify(r.body));
          if (n % 2 === 0 && to.includes(listener)) viaApi1.push(r.body.id as string);
        }
      }
      const result = await allDelivered(60_000, 'every delivery final');
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `# ${recipientsOf.size} messages × recipients × 2 channels in ${seconds.toFixed(1)} s: ${formatCheck(result)}`,
      );
      assert.equal(result.lost, 0);
      assert.equal(result.duplicated, 0, 'no faults: not one duplicate');
      assert.equal(result.unexpected, 0);
      assert.equal(fake.stats().invalidSignatures, 0);
      assert.equal(
        await count(`select count(*) n from deliveries where status not in ('sent', 'delivered')`),
        0,
      );
      assert.equal(await count(`select count(*) n from deliveries`), result.expected);

      // Both workers took a share, as their own /metrics (the operations port) tell.
      const shares = await Promise.all([worker1, worker2].map((w) => finishedDeliveries(w)));
      console.log(`# deliveries finished per worker: ${shares.join(' / ')}`);
      for (const share of shares) assert.ok(share > result.expected / 10, `shares ${shares}`);
      assert.equal(
        shares[0]! + shares[1]!,
        result.expected,
        'the workers finished each delivery once between them',
      );

      await stream.waitFor((events) => {
        const heard = new Set(
          events.filter((e) => e.event === 'inbox').map((e) => JSON.parse(e.data).messageId),
        );
        return viaApi1.every((id) => heard.has(id));
      }, 10_000);
      const heard = stream.events
        .filter((e) => e.event === 'inbox')
        .map((e) => JSON.parse(e.data).messageId as string);
      assert.equal(new Set(heard).size, heard.length, 'each inbox item streamed once');
      assert.ok(viaApi1.length >= 20, `${viaApi1.length} of them posted through API #1`);
      await stream.close();
    });

    it('a worker stopped with SIGTERM mid-broadcast exits 0; what it held is finished or handed over, nothing is lost, duplicated or stuck', async () => {
      // Slow receiver: webhook deliveries are in flight when the signal comes.
      fake.steady(behaviours.slow(100));
      const before = fake.accepted().length;
      for (let b = 0; b < BROADCASTS; b++) {
        const r = await client(api1.url, jwc)('POST', '/v1/messages', {
          category: CATEGORY,
          to: { all: true },
          data: { n: `broadcast-${b}` },
        });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        recipientsOf.set(r.body.id as string, everyone);
      }
      await fake.waitFor((f) => f.accepted().length >= before + 150 && f.inFlight > 0, 30_000);
      const total = BROADCASTS * everyone.length * CHANNELS.length;
      const inFlight = fake.inFlight;
      const final = await count(
        `select count(*) n from deliveries d join messages m on m.id = d.message_id where m.data like '%broadcast%' and d.status != 'queued'`,
      );
      // Signal worker #1 while it holds delivery jobs (its own gauge says so), not only worker #2.
      await eventually(
        async () => ((await jobsInProgress(worker1, 'deliver')) > 0 ? true : undefined),
        10_000,
        'worker #1 holding delivery jobs',
      );
      // While it drains, its operations port still answers: readiness 503.
      const readyz = new Set<number>();
      let scraping = true;
      const scraper = (async () => {
        while (scraping) {
          try {
            readyz.add((await fetch(`${worker1.opsUrl}/readyz`)).status);
          } catch {
            return; // closed: the process is about to exit
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const signalled = performance.now();
      worker1.proc.kill('SIGTERM');
      const exit = await worker1.exited;
      const exitMs = performance.now() - signalled;
      scraping = false;
      await scraper;
      const finishedInHand = worker1
        .output()
        .split('\n')
        .filter((line) => line.includes('finished the jobs in hand'))
        .map((line) => JSON.parse(line) as { loop: string; jobs: number });
      console.log(
        `# worker #1 stopped in ${exitMs.toFixed(0)} ms; at the signal ${inFlight} webhook calls were in flight and ${final} of ${total} broadcast deliveries final; ` +
          `it finished ${finishedInHand.map((f) => `${f.jobs} ${f.loop}`).join(', ')} jobs in hand after the signal; its /readyz answered ${[...readyz].join(', ')} meanwhile`,
      );
      assert.deepEqual(exit, { code: 0, signal: null }, worker1.errors());
      assert.ok(exitMs < 15_000, `stopped in ${exitMs} ms`);
      assert.ok(inFlight > 0, 'deliveries were in flight at the signal');
      assert.ok(final < total, 'the broadcast was not over at the signal');
      assert.ok(
        finishedInHand.some((f) => f.loop === 'deliver' && f.jobs > 0),
        'worker #1 finished the delivery jobs it had in hand after the signal',
      );
      assert.ok(readyz.has(503), 'not ready while it drains');

      // The other worker completes everything — well before any lease (30 s) could run out,
      // so nothing waited for one: what worker #1 held but had not begun came back at its stop.
      const result = await allDelivered(20_000, 'the broadcast finished by worker #2');
      console.log(`# after the worker's SIGTERM: ${formatCheck(result)}`);
      assert.equal(result.lost, 0);
      assert.equal(result.unexpected, 0);
      assert.equal(result.stuck, 0);
      assert.equal(
        result.duplicated,
        0,
        'a graceful stop finishes the jobs in hand: no provider call is repeated',
      );
      assert.equal(await count(`select count(*) n from broker_outbox`), 0);
      fake.steady('ok');
    });

    it('an API process stopped with SIGTERM exits 0, ends its streams and takes no new connection, while the other keeps serving', async () => {
      const listener = students[1]!;
      const login = await client(api2.url)('POST', '/v1/auth/login', {
        externalId: listener,
        password,
      });
      const stream = await fetch(`${api2.url}/v1/me/inbox/stream`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${login.body.token}` },
      });
      assert.equal(stream.status, 200);
      const streamEnded = (async () => {
        const reader = stream.body!.getReader();
        try {
          while (!(await reader.read()).done);
          return 'ended';
        } catch {
          return 'reset';
        }
      })();

      // Producers keep posting to both processes while API #2 stops.
      let producing = true;
      const outcomes: {
        api: 1 | 2;
        at: number;
        status: number | string;
        n: number;
        key: string;
      }[] = [];
      const produce = async (api: 1 | 2) => {
        const send = client((api === 1 ? api1 : api2).url, jwc);
        for (let n = 0; producing; n++) {
          const key = randomUUID();
          try {
            const r = await post(send, [listener], n, key);
            outcomes.push({ api, at: performance.now(), status: r.status, n, key });
          } catch (err) {
            const code = (err as { cause?: { code?: string } }).cause?.code ?? String(err);
            outcomes.push({ api, at: performance.now(), status: code, n, key });
            if (api === 2) await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const producers = [produce(1), produce(2)];
      await eventually(
        async () => (outcomes.filter((o) => o.api === 2).length >= 20 ? true : undefined),
        10_000,
        'API #2 accepting',
      );
      const signalled = performance.now();
      api2.proc.kill('SIGTERM');
      const exit = await api2.exited;
      const exitMs = performance.now() - signalled;
      await new Promise((r) => setTimeout(r, 300));
      producing = false;
      await Promise.all(producers);

      assert.deepEqual(exit, { code: 0, signal: null }, api2.errors());
      assert.ok(exitMs < 10_000, `stopped in ${exitMs} ms`);
      assert.equal(await streamEnded, 'ended', 'its inbox stream was ended by the server');
      const refused = await fetch(`${api2.url}/healthz`).then(
        () => 'answered',
        (err: { cause?: { code?: string } }) => err.cause?.code,
      );
      assert.equal(refused, 'ECONNREFUSED', 'no new connection once it is gone');

      const ofApi2 = outcomes.filter((o) => o.api === 2);
      const ofApi1 = outcomes.filter((o) => o.api === 1);
      const answered = ofApi2.filter((o) => typeof o.status === 'number');
      assert.ok(
        answered.every((o) => o.status === 202 || o.status === 503),
        `API #2 answered only 202 or 503: ${[...new Set(answered.map((o) => o.status))]}`,
      );
      assert.ok(
        ofApi1.every((o) => o.status === 202),
        `API #1 answered ${[...new Set(ofApi1.map((o) => o.status))]}`,
      );
      assert.ok(
        ofApi1.filter((o) => o.at > signalled).length > 0,
        'API #1 accepted messages while API #2 stopped',
      );
      // A request API #2 did not answer may or may not have been taken: its producer retries it,
      // same body and Idempotency-Key, on API #1, which answers with the message if it was.
      const unanswered = ofApi2.filter((o) => o.status !== 202);
      for (const o of unanswered) {
        const r = await post(client(api1.url, jwc), [listener], o.n, o.key);
        assert.equal(r.status, 202, JSON.stringify(r.body));
      }
      console.log(
        `# API #2 stopped in ${exitMs.toFixed(0)} ms: it took ${ofApi2.length - unanswered.length} messages, ${unanswered.length} were retried on API #1 (${[...new Set(unanswered.map((o) => o.status))]}); API #1 took ${ofApi1.length}`,
      );

      const result = await allDelivered(30_000, 'every accepted message delivered');
      assert.equal(result.lost, 0);
      assert.equal(result.unexpected, 0);
      assert.equal(result.duplicated, 0);
      assert.equal(result.stuck, 0);
    });

    it('the scheduler, the last API and the last worker exit 0 on SIGTERM', async () => {
      const metrics = await (await fetch(`${scheduler.opsUrl}/metrics`)).text();
      assert.match(metrics, /^herald_process_cpu_seconds_total /m);
      for (const p of [scheduler, api1, worker2]) {
        const signalled = performance.now();
        p.proc.kill('SIGTERM');
        const exit = await p.exited;
        const ms = performance.now() - signalled;
        assert.deepEqual(exit, { code: 0, signal: null }, p.errors());
        assert.ok(ms < 10_000, `stopped in ${ms} ms`);
      }
      assert.equal(await count(`select count(*) n from broker_outbox`), 0);
    });
  },
);

describe(
  'a SIGTERM while a role is starting stops it with exit 0, not by the signal',
  { concurrency: true },
  () => {
    // The signal handling is main.ts's, the same for every role: the reported role, and the one
    // that builds everything (API, worker thread, scheduler).
    for (const role of ['worker', 'all'] as const satisfies HeraldRole[]) {
      it(`herald ${role}`, async () => {
        // herald.db appears when the store opens: main.ts has taken over the signals by then, and
        // migrations, the rest of the start-up and the start line are still to come. An attempt
        // whose signal came after the start line tests the ordinary stop; try again then.
        const outcomes: string[] = [];
        for (let attempt = 0; attempt < 3; attempt++) {
          const dir = mkdtempSync(join(tmpdir(), `herald-startup-${role}-`));
          const child = launchHerald(dir, {}, role);
          try {
            const deadline = Date.now() + 30_000;
            while (!existsSync(join(dir, 'herald.db'))) {
              assert.ok(Date.now() < deadline, `no store opened: ${child.errors()}`);
              assert.equal(child.proc.exitCode, null, child.errors());
              await new Promise((r) => setTimeout(r, 2));
            }
            child.proc.kill('SIGTERM');
            const exit = await child.exited;
            assert.deepEqual(exit, { code: 0, signal: null }, child.errors());
            const duringStartUp = !/is running/.test(child.output());
            outcomes.push(duringStartUp ? 'during start-up' : 'after the start line');
            if (duringStartUp) break;
          } finally {
            await child.kill();
            rmSync(dir, { recursive: true, force: true });
          }
        }
        assert.equal(outcomes.at(-1), 'during start-up', `signals came ${outcomes.join(', ')}`);
      });
    }
  },
);

/** Deliveries a worker brought to a final status, from its own /metrics. */
/** The worker's `herald_jobs_in_progress` of one loop. */
async function jobsInProgress(worker: ChildHerald, loop: string): Promise<number> {
  const text = await (await fetch(`${worker.opsUrl}/metrics`)).text();
  const m = new RegExp(`^herald_jobs_in_progress\\{loop="${loop}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function finishedDeliveries(worker: ChildHerald): Promise<number> {
  const text = await (await fetch(`${worker.opsUrl}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^herald_deliveries_total\{([^}]*)\} (\d+)$/gm)) {
    if (!/status="queued"/.test(m[1]!)) sum += Number(m[2]);
  }
  return sum;
}

/** The drill's category on in_app + webhook, its templates, the webhook provider; jwc may send it. */
async function setUp(admin: Send, webhookUrl: string, signingSecret: string): Promise<void> {
  const ok = (r: { status: number; body: unknown }, ...codes: number[]) =>
    assert.ok(codes.includes(r.status), `${r.status}: ${JSON.stringify(r.body)}`);
  ok(
    await admin('POST', '/v1/providers', {
      name: 'campus-app',
      kind: 'webhook',
      settings: { url: webhookUrl },
      secrets: { signingSecret },
    }),
    201,
  );
  ok(
    await admin('POST', '/v1/categories', {
      key: CATEGORY,
      name: { 'zh-CN': '进程演练', en: 'Process drill' },
      defaultChannels: [...CHANNELS],
      maxAttempts: 10,
    }),
    201,
  );
  for (const locale of ['zh-CN', 'en']) {
    ok(
      await admin('PUT', `/v1/templates/${CATEGORY}/in_app/${locale}`, {
        title: 'Drill {{ data.n }}',
        body: 'Process drill message {{ data.n }} for {{ recipient.name }}.',
      }),
      200,
      201,
    );
    ok(
      await admin('PUT', `/v1/templates/${CATEGORY}/webhook/${locale}`, {
        title: 'Drill {{ data.n }}',
        body: 'Process drill message {{ data.n }}.',
      }),
      200,
      201,
    );
  }
  const jwc = await admin('GET', '/v1/sources/jwc');
  ok(
    await admin('PATCH', '/v1/sources/jwc', {
      categories: [...(jwc.body.categories as string[]), CATEGORY],
    }),
    200,
  );
}
