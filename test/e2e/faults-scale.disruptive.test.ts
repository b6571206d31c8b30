/**
 * The scale-out fault drill (RELIABILITY.md A2, A4, A7 and E5 in small): Herald on PostgreSQL
 * and RabbitMQ as one `herald api` and two `herald worker` processes, 1,000 messages, each to
 * one student on email and webhook, while both providers refuse a fifth of what they get and
 * the drill
 *
 * 1. SIGKILLs a worker mid-delivery and starts it again,
 * 2. stops the broker's application for a few seconds under load (the API keeps answering 202:
 *    the jobs wait in the transactional outbox),
 * 3. restarts PostgreSQL (the API answers 503 with Retry-After; the clients retry with the same
 *    Idempotency-Key),
 * 4. SIGKILLs the other worker, whose jobs the broker hands to the one left.
 *
 * The checker then reconciles the 202 ids, the database and what the SMTP server and the webhook
 * receiver accepted: nothing lost, nothing stuck, and every duplicate is a delivery in flight at
 * a fault — one the provider had taken while the database did not yet say so.
 *
 * It stops RabbitMQ and restarts PostgreSQL for a few seconds each: other users of both see their
 * connections drop. Hence the `.disruptive` suffix: `npm test` runs it last, alone.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  spawnHerald,
  type ChildHerald,
} from '../support/test-herald.js';
import { startSink, type Reply, type SmtpSink } from '../support/smtp-sink.js';
import { FakeProvider, mulberry32 } from '../support/fake-provider.js';
import { check, formatCheck, type Received } from '../support/checker.js';
import { freshSchema, type FreshSchema } from '../support/fresh-postgres.js';
import { deleteBrokerObjects, heraldBrokerObjects, uniqueBrokerPrefix } from '../support/broker.js';
import { skipUnless, TEST_BROKER_URL, TEST_DATABASE_URL } from '../support/services.js';
import { generateSecret } from '../../src/webhooks/standard-webhooks.js';

const run = promisify(execFile);

const MESSAGES = 1_000;
/** Messages sent per second (the drill's faults fall while the load runs). */
const RATE = 25;
const SENDERS = 8;
/** The message numbers at which the four faults fall. */
const GATES = [150, 350, 600, 850] as const;
const CATEGORY = 'fault.drill';
const CLASS = 'class-2024-agronomy-1';
/** Each provider refuses this share of what it gets, transiently (SMTP 451, HTTP 503). */
const FLAP = 0.2;
/** How long the broker stays stopped. */
const BROKER_DOWN_MS = 3_000;
const RABBITMQCTL = '/usr/sbin/rabbitmqctl';

// ---------------------------------------------------------------------------------------------
// The services the drill disturbs, and how it waits for them to be back.

async function disruptable(): Promise<string | false> {
  const down = await skipUnless('postgres', 'rabbitmq');
  if (down) return down;
  if (!existsSync(RABBITMQCTL)) return 'rabbitmqctl is not installed here to stop the broker';
  try {
    const { stdout } = await run('pg_lsclusters', ['--no-header']);
    return /\bmain\b.*\bonline\b/.test(stdout) && readdirSync('/etc/postgresql').length > 0
      ? false
      : 'no online cluster "main" for pg_ctlcluster to restart';
  } catch {
    return 'pg_ctlcluster is not available to restart PostgreSQL';
  }
}

const pgCluster = (): string[] => [
  '--skip-systemctl-redirect',
  readdirSync('/etc/postgresql')[0]!,
  'main',
];
const succeeds = (file: string, args: string[]) =>
  run(file, args, { timeout: 20_000 }).then(
    () => true,
    () => false,
  );
const brokerAnswers = () => succeeds('rabbitmq-diagnostics', ['-q', 'check_port_connectivity']);
const postgresAnswers = () => succeeds('pg_isready', ['-q', '-h', '127.0.0.1', '-p', '5432']);

/** Whether the queues of a Herald with this prefix hold no message, ready or unacked. */
async function brokerIdle(prefix: string): Promise<boolean> {
  const { stdout } = await run(RABBITMQCTL, ['-q', 'list_queues', 'name', 'messages']);
  return stdout
    .split('\n')
    .map((line) => line.split('\t'))
    .every(([name, messages]) => !name?.startsWith(`${prefix}.`) || messages === '0');
}

/**
 * The broker's file descriptors, used and allowed: a broker out of them (other suites' quorum
 * queues each hold files) accepts TCP connections but never completes the AMQP handshake.
 */
async function brokerFiles(): Promise<string> {
  try {
    const { stdout } = await run(RABBITMQCTL, ['-q', 'status', '--formatter', 'json'], {
      timeout: 20_000,
    });
    const fd = (JSON.parse(stdout) as { file_descriptors?: Record<string, number> })
      .file_descriptors;
    return fd ? `${fd.total_used} of ${fd.total_limit}` : 'unknown';
  } catch (err) {
    return `unknown (${(err as Error).message.split('\n')[0]})`;
  }
}

async function waitFor(what: string, up: () => Promise<boolean>, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  while (!(await up())) {
    if (Date.now() > until) throw new Error(`${what} is not back after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Starts whatever the drill may have left stopped; harmless when both run. */
async function restoreServices(): Promise<void> {
  if (!(await brokerAnswers())) await run(RABBITMQCTL, ['-q', 'start_app']).catch(() => {});
  if (!(await postgresAnswers()))
    await run('pg_ctlcluster', [...pgCluster(), 'start']).catch(() => {});
  await waitFor('RabbitMQ', brokerAnswers);
  await waitFor('PostgreSQL', postgresAnswers);
}

// ---------------------------------------------------------------------------------------------

/** One fault: when it began and ended, and how much the providers had taken by its end. */
interface Fault {
  readonly name: string;
  readonly began: number;
  readonly ended: number;
  /** Copies accepted by the SMTP server and the webhook receiver when the fault was over. */
  readonly mailsAtEnd: number;
  readonly hooksAtEnd: number;
}

/** Every answer the producers got, to tell what the API did during each fault. */
interface Answer {
  readonly at: number;
  readonly status: number | 'network-error';
  readonly retryAfter: string | null;
  readonly replay: boolean;
}

describe(
  'scale-out faults: api + 2 workers on PostgreSQL and RabbitMQ, flapping providers, worker kills, broker stop, PostgreSQL restart',
  { skip: await disruptable() },
  () => {
    let schema: FreshSchema | undefined;
    let prefix: string;
    let dataDir: string;
    let sink: SmtpSink;
    let fake: FakeProvider | undefined;
    let reader: pg.Pool | undefined;
    const mailAt: number[] = [];
    /** Every Herald process started, so that none outlives the drill. */
    const children: ChildHerald[] = [];
    /** Processes that ended without being killed by the drill. */
    const crashes: string[] = [];
    const killedByUs = new Set<ChildHerald>();
    const killAll = () => {
      for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    };

    before(async () => {
      // Even if the runner dies before `after`, no Herald may be left running.
      process.once('exit', killAll);
      dataDir = mkdtempSync(join(tmpdir(), 'herald-faults-scale-'));
      prefix = uniqueBrokerPrefix();
      schema = await freshSchema();
      sink = await startSink();
      const push = sink.messages.push.bind(sink.messages);
      sink.messages.push = (...items) => {
        mailAt.push(...items.map(() => Date.now()));
        return push(...items);
      };
      // The sink reads `reply` for every RCPT: a seeded fifth of them get a 451.
      const random = mulberry32(2027);
      Object.defineProperty(sink, 'reply', {
        get: (): Reply =>
          random() < FLAP ? { kind: 'reject', at: 'rcpt', code: 451 } : { kind: 'accept' },
        set: () => {},
      });
    });

    after(async () => {
      for (const c of children) killedByUs.add(c);
      await Promise.all(children.map((c) => c.kill('SIGKILL')));
      process.removeListener('exit', killAll);
      // Each step runs even when an earlier one failed; the first failure is reported.
      const failures: unknown[] = [];
      const step = (work: () => Promise<unknown>) => work().catch((err) => failures.push(err));
      await step(restoreServices);
      await step(async () => reader?.end());
      await step(async () => schema?.drop());
      await step(async () => {
        if (!prefix) return;
        for (let attempt = 1; ; attempt++) {
          try {
            return await deleteBrokerObjects(heraldBrokerObjects(prefix));
          } catch (err) {
            if (attempt === 3) throw err;
            await sleep(5_000);
          }
        }
      });
      await step(async () => sink?.close());
      await step(async () => fake?.close());
      if (!process.env.KEEP) rmSync(dataDir, { recursive: true, force: true });
      if (failures.length > 0) throw failures[0];
    });

    it(`${MESSAGES} messages through a worker kill, a broker stop, a PostgreSQL restart and a second worker kill: lost=0, stuck=0, duplicates only of what was in flight`, async (t) => {
      const signingSecret = generateSecret();
      fake = await FakeProvider.start({ secret: signingSecret });
      fake.flap({ p: FLAP, seed: 11, failure: { status: 503 } });
      const env = {
        HERALD_DEMO: 'true',
        HERALD_DATABASE_URL: schema!.url,
        HERALD_DATABASE_POOL_SIZE: '4',
        HERALD_BROKER_URL: TEST_BROKER_URL,
        HERALD_BROKER_PREFIX: prefix,
        HERALD_LEASE_SECONDS: '2',
        HERALD_RETRY_BASE_MS: '100',
        HERALD_RETRY_CAP_MS: '1000',
        HERALD_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
        HERALD_SMTP_FROM: 'Herald <noreply@example.edu.cn>',
        HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
        HERALD_LOG_LEVEL: process.env.DRILL_DEBUG ? 'warn' : 'error',
      };
      const start = async (role: 'api' | 'worker', name: string): Promise<ChildHerald> => {
        const child = await spawnHerald(dataDir, env, role);
        children.push(child);
        child.proc.once('exit', (code, signal) => {
          if (!killedByUs.has(child))
            crashes.push(`${name} exited (${code ?? signal}):\n${child.output().slice(-4000)}`);
        });
        return child;
      };
      const kill = async (child: ChildHerald) => {
        killedByUs.add(child);
        await child.kill('SIGKILL');
      };

      // The API first: it migrates and seeds the demo university; then the workers.
      t.diagnostic(`broker file descriptors in use: ${await brokerFiles()}`);
      const api = await start('api', 'api');
      const jwcKey = /^\s+jwc\s+(hk_\S+)/m.exec(api.output())![1]!;
      await setUp(client(api.url, ADMIN_TOKEN), fake.url, signingSecret);
      const workers = [await start('worker', 'worker A'), await start('worker', 'worker B')];
      const members = await client(api.url, ADMIN_TOKEN)(
        'GET',
        `/v1/groups/${CLASS}/members?limit=20`,
      );
      const students: string[] = members.body.items.map(
        (u: { externalId: string }) => u.externalId,
      );
      assert.ok(students.length >= 10);

      // The database as the checker's far side; a pool, so it outlives the PostgreSQL restart.
      reader = new pg.Pool({
        connectionString: TEST_DATABASE_URL,
        options: `-c search_path=${schema!.schema}`,
        max: 2,
      });
      reader.on('error', () => {});
      const db = reader;
      const count = async (where: string) =>
        Number(
          (await db.query<{ n: string }>(`select count(*) n from deliveries where ${where}`))
            .rows[0]!.n,
        );
      const outboxRows = async () =>
        Number((await db.query<{ n: string }>(`select count(*) n from broker_outbox`)).rows[0]!.n);
      const faults: Fault[] = [];
      const brokerDown = { from: 0, to: 0 };
      const pgDown = { from: 0, to: 0 };
      /** What a failing drill needs to be understood: the deliveries left behind, the outbox,
       * the broker's queues of this run, and what each Herald logged. */
      let dumped = false;
      const dumpState = async (more: Record<string, unknown> = {}) => {
        if (dumped) return;
        dumped = true;
        const rows = async (statement: string) =>
          (await db.query(statement).catch((err: Error) => ({ rows: [err.message] }))).rows;
        const { stdout: brokerQueues } = await run(RABBITMQCTL, [
          '-q',
          'list_queues',
          'name',
          'messages_ready',
          'messages_unacknowledged',
          'consumers',
          'state',
        ]).catch(() => ({ stdout: '' }));
        console.log(
          JSON.stringify(
            {
              now: Date.now(),
              faults,
              brokerDown,
              pgDown,
              queued: await rows(
                `select d.id, d.message_id, d.channel, d.attempts, d.last_error, d.created_at, d.updated_at,
                        (select json_agg(json_build_object('attempt', a.attempt, 'outcome', a.outcome, 'at', a.finished_at))
                           from delivery_attempts a where a.delivery_id = d.id) as attempts_log
                   from deliveries d where d.status = 'queued' limit 50`,
              ),
              outbox: await rows(
                `select id, job_id, topic, payload, claimed_until, available_at, deliveries from broker_outbox limit 50`,
              ),
              deadJobs: await rows(`select * from queue_dead_jobs limit 50`),
              brokerQueues: brokerQueues
                .split('\n')
                .filter((l) => l.startsWith(prefix) && !/\t0\t0\t\d+\trunning$/.test(l)),
              brokerFileDescriptors: await brokerFiles(),
              ...more,
            },
            null,
            1,
          ),
        );
        for (const c of children)
          console.log(`--- Herald pid ${c.proc.pid}:\n${c.output().slice(-30_000)}`);
      };
      try {
        // The producers: RATE messages a second, each with its own Idempotency-Key; a 503 (or a
        // refused connection) is retried after Retry-After with the same key and body.
        const answers: Answer[] = [];
        const accepted: string[] = [];
        const recipientOf = new Map<string, string>();
        const idOfKey = new Map<string, string>();
        let next = 0;
        const t0 = Date.now();
        const sendOne = async (n: number) => {
          const student = students[n % students.length]!;
          const key = `drill-${n}`;
          const body = JSON.stringify({
            category: CATEGORY,
            to: { users: [student] },
            data: { n },
          });
          const giveUp = Date.now() + 60_000;
          for (;;) {
            assert.ok(Date.now() < giveUp, `message ${n} still not accepted after 60 s`);
            let res: Response;
            try {
              res = await fetch(`${api.url}/v1/messages`, {
                method: 'POST',
                headers: {
                  authorization: `Bearer ${jwcKey}`,
                  'content-type': 'application/json',
                  'idempotency-key': key,
                },
                body,
                signal: AbortSignal.timeout(20_000),
              });
            } catch {
              answers.push({
                at: Date.now(),
                status: 'network-error',
                retryAfter: null,
                replay: false,
              });
              await sleep(500);
              continue;
            }
            const json = (await res.json()) as { id?: string };
            const retryAfter = res.headers.get('retry-after');
            answers.push({
              at: Date.now(),
              status: res.status,
              retryAfter,
              replay: res.headers.get('idempotency-replay') === 'true',
            });
            if (res.status === 202) {
              const id = json.id!;
              const earlier = idOfKey.get(key);
              assert.ok(
                !earlier || earlier === id,
                `key ${key} answered ${earlier} and then ${id}`,
              );
              if (!earlier) {
                idOfKey.set(key, id);
                accepted.push(id);
                recipientOf.set(id, student);
              }
              return;
            }
            assert.ok(
              res.status === 503 && retryAfter !== null && Number(retryAfter) > 0,
              `message ${n}: ${res.status} (Retry-After ${retryAfter}) ${JSON.stringify(json)}`,
            );
            await sleep(Number(retryAfter) * 1000);
          }
        };
        // Each fault has a gate: producers past its message number wait until the fault begins, so
        // that every fault falls under load however slow the machine is.
        const gates = new Map<number, { open: () => void; opened: Promise<void> }>();
        for (const at of GATES) {
          let open = () => {};
          const opened = new Promise<void>((resolve) => (open = resolve));
          gates.set(at, { open, opened });
        }
        const producers = Promise.all(
          Array.from({ length: SENDERS }, async () => {
            for (let n = next++; n < MESSAGES; n = next++) {
              for (const [at, gate] of gates) if (n >= at) await gate.opened;
              const due = t0 + (n * 1000) / RATE;
              if (due > Date.now()) await sleep(due - Date.now());
              await sendOne(n);
            }
          }),
        );
        // A failing producer must not leave the faults waiting for progress that never comes.
        let producersFailed: unknown = null;
        producers.catch((err: unknown) => (producersFailed = err));
        /** Waits until the producers are about to reach gate `at`. */
        const nearGate = (at: number) =>
          eventually(
            async () => {
              if (producersFailed) throw producersFailed;
              return accepted.length >= at - SENDERS ? true : undefined;
            },
            90_000,
            `${at - SENDERS} messages accepted`,
          );

        /** Runs `inject` as a fault: notes what was not final before and what was sent by after. */
        const fault = async (name: string, inject: () => Promise<void>) => {
          const began = Date.now();
          await inject();
          const f: Fault = {
            name,
            began,
            ended: Date.now(),
            mailsAtEnd: sink.messages.length,
            hooksAtEnd: fake!.accepted().length,
          };
          faults.push(f);
          t.diagnostic(`${name}: ${f.ended - began} ms, ${accepted.length} messages accepted`);
        };
        /** A worker killed: what it had sent but not recorded is at the providers 200 ms later. */
        const killWorker = (i: number, name: string) =>
          fault(name, async () => {
            await kill(workers[i]!);
            await sleep(200);
          });
        const gate = (at: number) => gates.get(at)!;

        // 1. A worker dies mid-delivery and comes back.
        await nearGate(GATES[0]);
        await eventually(
          async () => ((await count(`status != 'queued'`)) >= 100 ? true : undefined),
          60_000,
          '100 deliveries final before the first kill',
        );
        await killWorker(0, 'SIGKILL worker A');
        gate(GATES[0]).open();
        workers[0] = await start('worker', 'worker A (restarted)');

        // 2. The broker stops under load: the API keeps accepting, the outbox holds the jobs.
        await nearGate(GATES[1]);
        await fault('RabbitMQ stop_app / start_app', async () => {
          gate(GATES[1]).open();
          try {
            await run(RABBITMQCTL, ['-q', 'stop_app']);
            brokerDown.from = Date.now();
            await sleep(BROKER_DOWN_MS);
            brokerDown.to = Date.now();
          } finally {
            await run(RABBITMQCTL, ['-q', 'start_app']);
          }
          await waitFor('RabbitMQ', brokerAnswers);
        });
        const duringBrokerOutage = answers.filter(
          (a) => a.at >= brokerDown.from && a.at <= brokerDown.to,
        );
        // The links reconnect and the outbox drains by itself: what was accepted meanwhile is
        // delivered before the next fault, which then meets the workers at work.
        const brokerBack = Date.now();
        const backlog = [...accepted];
        await eventually(
          async () => {
            const { rows } = await db.query<{ n: string }>(
              `select count(*) n from deliveries where message_id = any($1) and status != 'queued'`,
              [backlog],
            );
            return Number(rows[0]!.n) === backlog.length * 2 ? true : undefined;
          },
          90_000,
          `the ${backlog.length} messages accepted up to the broker's return delivered`,
        );
        const brokerRecoveredMs = Date.now() - brokerBack;
        t.diagnostic(
          `all ${backlog.length} messages accepted until the broker was back delivered ${brokerRecoveredMs} ms later`,
        );

        // 3. PostgreSQL restarts: 503 + Retry-After, the producers retry with the same keys.
        await nearGate(GATES[2]);
        await fault('PostgreSQL restart', async () => {
          pgDown.from = Date.now();
          gate(GATES[2]).open();
          await run('pg_ctlcluster', [...pgCluster(), 'restart']);
          await waitFor('PostgreSQL', postgresAnswers);
          // Back when the API says it is ready again (its pool reconnects on the next use).
          await eventually(
            async () => ((await fetch(`${api.url}/readyz`)).status === 200 ? true : undefined),
            30_000,
            'the API ready after the PostgreSQL restart',
          );
          pgDown.to = Date.now();
        });
        const duringPgRestart = answers.filter((a) => a.at >= pgDown.from && a.at <= pgDown.to);

        // 4. The other worker dies for good: the broker hands its jobs to the one left.
        await nearGate(GATES[3]);
        await killWorker(1, 'SIGKILL worker B');
        gate(GATES[3]).open();

        await producers;
        assert.equal(accepted.length, MESSAGES);
        const sentIn = Date.now() - t0;

        const expectedDeliveries = MESSAGES * 2;
        let drained = true;
        await eventually(
          async () =>
            (await count(`status != 'queued'`)) === expectedDeliveries &&
            (await count('true')) === expectedDeliveries
              ? true
              : undefined,
          120_000,
          'every delivery final',
        ).catch(() => (drained = false));
        const finalIn = Date.now() - t0;
        // Outbox rows a killed worker had claimed come out once their claim runs out (30 s): the
        // jobs they hold are done by now, and must cost no second copy. Count after they ran.
        let idle = drained;
        if (drained)
          await eventually(
            async () =>
              (await outboxRows()) === 0 && (await brokerIdle(prefix)) ? true : undefined,
            60_000,
            'the outbox and the broker queues empty',
          ).catch(() => (idle = false));
        const idleIn = Date.now() - t0;

        // What the far side accepted, as (message, recipient:channel) copies, by delivery id.
        const rows = (
          await db.query<{ id: string; message_id: string; external_id: string }>(
            `select d.id, d.message_id, u.external_id from deliveries d join users u on u.id = d.user_id`,
          )
        ).rows;
        const byDelivery = new Map(rows.map((d) => [d.id, d]));
        const mails = sink.messages.map((mail) => {
          const id = /^X-Herald-Delivery-Id: (\S+)$/im.exec(mail.raw)?.[1] ?? '?';
          const d = byDelivery.get(id);
          const received: Received = d
            ? { messageId: d.message_id, recipient: `${d.external_id}:email` }
            : { messageId: '?', recipient: mail.rcptTo.join(',') };
          return { deliveryId: id, received };
        });
        const hooks = fake.accepted().map((request) => {
          const data = (
            request.body as { data: { messageId: string; recipient: { externalId: string } } }
          ).data;
          const received: Received = {
            messageId: data.messageId,
            recipient: `${data.recipient.externalId}:webhook`,
          };
          return { deliveryId: request.webhookId ?? '?', received };
        });
        const stuck = await count(`status = 'queued'`);
        const result = check({
          accepted,
          recipientsOf: (m) => [`${recipientOf.get(m)}:email`, `${recipientOf.get(m)}:webhook`],
          received: [...mails, ...hooks].map((c) => c.received),
          stuck,
        });

        // The at-least-once window of each fault: deliveries not final at some moment of it (created
        // before it ended, final after it began) that a provider had taken by its end — sent, but
        // perhaps not recorded. A duplicate outside every window is a bug.
        const firstCopy = (copies: { deliveryId: string }[]) => {
          const first = new Map<string, number>();
          copies.forEach((c, i) => first.has(c.deliveryId) || first.set(c.deliveryId, i));
          return first;
        };
        const firstMail = firstCopy(mails);
        const firstHook = firstCopy(hooks);
        const windows = [];
        for (const f of faults) {
          const ids = new Set<string>();
          const open = await db.query<{ id: string }>(
            `select id from deliveries where created_at <= $1 and (final_at is null or final_at >= $2)`,
            [f.ended, f.began],
          );
          for (const { id } of open.rows) {
            const m = firstMail.get(id);
            const h = firstHook.get(id);
            if ((m !== undefined && m < f.mailsAtEnd) || (h !== undefined && h < f.hooksAtEnd))
              ids.add(id);
          }
          windows.push({ name: f.name, ids });
        }
        const inAnyWindow = new Set(windows.flatMap((w) => [...w.ids]));
        const copiesOf = new Map<string, number>();
        for (const c of [...mails, ...hooks])
          copiesOf.set(c.deliveryId, (copiesOf.get(c.deliveryId) ?? 0) + 1);
        const duplicatedIds = [...copiesOf].filter(([, n]) => n > 1).map(([id]) => id);
        const byFault = windows.map(
          (w) => `${w.name}: ${duplicatedIds.filter((id) => w.ids.has(id)).length}/${w.ids.size}`,
        );
        const statuses = new Map<string, number>();
        for (const a of answers)
          statuses.set(String(a.status), (statuses.get(String(a.status)) ?? 0) + 1);
        const outbox = await outboxRows();
        const unexplained = duplicatedIds.filter((id) => !inAnyWindow.has(id));
        if (process.env.DRILL_DEBUG || stuck > 0 || unexplained.length > 0 || !idle)
          await dumpState({
            unexplainedDuplicates: await Promise.all(
              unexplained.map(async (id) => ({
                id,
                mails: mails.flatMap((m, i) => (m.deliveryId === id ? [mailAt[i]] : [])),
                hooks: fake!.requests.flatMap((h) =>
                  h.webhookId === id ? [{ at: h.at, answer: h.answer }] : [],
                ),
                delivery: (await db.query(`select * from deliveries where id = $1`, [id])).rows,
                attempts: (
                  await db.query(
                    `select attempt, outcome, started_at, finished_at from delivery_attempts where delivery_id = $1 order by started_at`,
                    [id],
                  )
                ).rows,
              })),
            ),
          });
        const attempts = (
          await db.query<{ a: string; m: number }>(
            `select avg(attempts) a, max(attempts) m from deliveries`,
          )
        ).rows[0]!;

        console.log(
          `# scale-out fault check: ${formatCheck(result)}\n` +
            `#   duplicates (delivered copies in a fault's window / window size): ${byFault.join('; ')}\n` +
            `#   API answers ${JSON.stringify(Object.fromEntries(statuses))}, ` +
            `replays ${answers.filter((a) => a.replay).length}; while the broker was down: ${duringBrokerOutage.length} answers, ` +
            `${duringBrokerOutage.filter((a) => a.status === 202).length} of them 202, backlog delivered ${(brokerRecoveredMs / 1000).toFixed(1)} s after start_app; ` +
            `during the PostgreSQL restart: ` +
            `${duringPgRestart.filter((a) => a.status === 503).length} × 503\n` +
            `#   attempts per delivery: mean ${Number(attempts.a).toFixed(2)}, max ${attempts.m}; refused by the providers: ` +
            `smtp ${sink.rcpts.length - sink.messages.length}, webhook ${fake.requests.length - fake.accepted().length}; ` +
            `all sent in ${(sentIn / 1000).toFixed(1)} s, all final in ${(finalIn / 1000).toFixed(1)} s, ` +
            `outbox and broker queues empty in ${(idleIn / 1000).toFixed(1)} s (outbox left ${outbox})`,
        );

        assert.deepEqual(crashes, [], 'no Herald process died of a fault');
        assert.ok(drained, `every delivery final within 120 s (${stuck} still queued)`);
        assert.equal(result.expected, expectedDeliveries);
        assert.equal(result.lost, 0);
        assert.equal(result.unexpected, 0);
        assert.equal(result.stuck, 0);
        assert.equal(await count(`status not in ('sent', 'delivered')`), 0, 'every delivery sent');
        assert.ok(idle, 'the outbox drained and the broker queues emptied');
        assert.equal(outbox, 0, 'the outbox drained');
        assert.ok(
          duplicatedIds.every((id) => inAnyWindow.has(id)),
          `duplicates outside the faults' windows: ${unexplained}`,
        );
        assert.ok(result.duplicated <= inAnyWindow.size);
        // The API never failed but with 503 + Retry-After, and kept accepting without the broker.
        assert.deepEqual(
          [...statuses.keys()].filter((s) => s !== '202' && s !== '503'),
          [],
          'only 202 and 503 answers',
        );
        assert.ok(
          duringBrokerOutage.length >= 10,
          'the producers kept sending while the broker was down',
        );
        assert.ok(
          duringBrokerOutage.every((a) => a.status === 202),
          'every request while the broker was down was accepted',
        );
        assert.ok(
          duringPgRestart.some((a) => a.status === 503),
          'the PostgreSQL restart was noticed (503s)',
        );
        assert.equal(fake.stats().invalidSignatures, 0, 'every webhook was signed correctly');
        assert.ok(
          sink.rcpts.length > sink.messages.length && fake.requests.length > fake.accepted().length,
          'both providers really flapped',
        );
      } catch (err) {
        await dumpState();
        throw err;
      }
    });
  },
);

/** A category on email + webhook with generous attempts, its templates, and the webhook provider. */
async function setUp(
  admin: ReturnType<typeof client>,
  webhookUrl: string,
  signingSecret: string,
): Promise<void> {
  const ok = (r: { status: number; body: unknown }, ...codes: number[]) =>
    assert.ok(codes.includes(r.status), `${r.status}: ${JSON.stringify(r.body)}`);
  ok(
    await admin('POST', '/v1/providers', {
      name: 'campus-app',
      kind: 'webhook',
      settings: { url: webhookUrl },
      secrets: { signingSecret },
      // The receiver flaps at random: the breaker must not take it out for long.
      limits: { breaker: { failures: 20, coolDownMs: 200 } },
    }),
    201,
  );
  ok(
    await admin('POST', '/v1/categories', {
      key: CATEGORY,
      name: { 'zh-CN': '故障演练', en: 'Fault drill' },
      defaultChannels: ['email', 'webhook'],
      maxAttempts: 30,
    }),
    201,
  );
  for (const locale of ['zh-CN', 'en']) {
    ok(
      await admin('PUT', `/v1/templates/${CATEGORY}/email/${locale}`, {
        subject: 'Drill {{ data.n }}',
        body: 'Fault drill message {{ data.n }} for {{ recipient.name }}.',
      }),
      200,
      201,
    );
    ok(
      await admin('PUT', `/v1/templates/${CATEGORY}/webhook/${locale}`, {
        title: 'Drill {{ data.n }}',
        body: 'Fault drill message {{ data.n }}.',
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
