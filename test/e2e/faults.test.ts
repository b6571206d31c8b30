import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
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
import { generateSecret } from '../../src/webhooks/standard-webhooks.js';

const MESSAGES = 1_000;
const CATEGORY = 'fault.drill';
const CLASS = 'class-2024-agronomy-1';
/** Each provider refuses this share of what it gets, transiently (SMTP 451, HTTP 503). */
const FLAP = 0.2;

/**
 * The fault drill of RELIABILITY.md: 1,000 messages, each to one student on email and webhook,
 * while both providers refuse a fifth of what they get and the Herald process is SIGKILLed
 * twice mid-delivery. The checker reconciles the 202 ids, the database and what the SMTP
 * server and the webhook receiver accepted: nothing lost, nothing stuck, and every duplicate
 * is a delivery that was in flight at a kill.
 */
describe('faults: email + webhook with flapping providers and two SIGKILLs', () => {
  let dataDir: string;
  let herald: ChildHerald | undefined;
  let sink: SmtpSink;
  let fake: FakeProvider;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-faults-'));
    sink = await startSink();
    // The sink reads `reply` for every RCPT: a seeded fifth of them get a 451.
    const random = mulberry32(2026);
    Object.defineProperty(sink, 'reply', {
      get: (): Reply =>
        random() < FLAP ? { kind: 'reject', at: 'rcpt', code: 451 } : { kind: 'accept' },
      set: () => {},
    });
  });
  after(async () => {
    await herald?.kill();
    await sink?.close();
    await fake?.close();
    if (!process.env.KEEP) rmSync(dataDir, { recursive: true, force: true });
    else console.log('kept', dataDir);
  });

  it(`${MESSAGES} messages: lost=0, stuck=0, duplicates only of what was in flight at a kill`, async () => {
    const signingSecret = generateSecret();
    fake = await FakeProvider.start({ secret: signingSecret });
    fake.flap({ p: FLAP, seed: 7, failure: { status: 503 } });
    const env = {
      HERALD_DEMO: 'true',
      HERALD_LEASE_SECONDS: '2',
      HERALD_RETRY_BASE_MS: '100',
      HERALD_RETRY_CAP_MS: '1000',
      HERALD_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      HERALD_SMTP_FROM: 'Herald <noreply@example.edu.cn>',
      HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
    };
    herald = await spawnHerald(dataDir, env);
    const jwcKey = /^\s+jwc\s+(hk_\S+)/m.exec(herald.output())![1]!;
    await setUp(client(herald.url, ADMIN_TOKEN), fake.url, signingSecret);
    const members = await client(herald.url, ADMIN_TOKEN)(
      'GET',
      `/v1/groups/${CLASS}/members?limit=20`,
    );
    const students: string[] = members.body.items.map((u: { externalId: string }) => u.externalId);
    assert.ok(students.length >= 10);

    const accepted: string[] = [];
    const recipientOf = new Map<string, string>();
    const sendWave = async (count: number) => {
      const send = client(herald!.url, jwcKey);
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) => {
          const student = students[(accepted.length + i) % students.length]!;
          return send('POST', '/v1/messages', {
            category: CATEGORY,
            to: { users: [student] },
            data: { n: accepted.length + i },
          }).then((r) => ({ r, student }));
        }),
      );
      for (const { r, student } of results) {
        assert.equal(r.status, 202, JSON.stringify(r.body));
        accepted.push(r.body.id);
        recipientOf.set(r.body.id, student);
      }
    };

    const db = new SqliteDatabase(join(dataDir, 'herald.db'), { readonly: true });
    const count = (where: string) =>
      (db.prepare(`select count(*) n from deliveries where ${where}`).get() as { n: number }).n;
    /** Deliveries in jobs that were leased when the process died: the at-least-once window. */
    const inFlight = () => {
      const jobs = db
        .prepare(
          `select payload from queue_jobs where topic like 'deliver.%' and lease_token is not null`,
        )
        .all() as { payload: string }[];
      const ids = new Set(
        jobs.flatMap((j) => (JSON.parse(j.payload) as { deliveryIds: string[] }).deliveryIds),
      );
      const queued = new Set(
        (
          db.prepare(`select id from deliveries where status = 'queued'`).all() as { id: string }[]
        ).map((d) => d.id),
      );
      return [...ids].filter((id) => queued.has(id));
    };
    const killMidDelivery = async (afterFinal: number) => {
      await eventually(
        async () => (count(`status in ('sent', 'delivered')`) >= afterFinal ? true : undefined),
        60_000,
        `${afterFinal} deliveries sent`,
      );
      await herald!.kill('SIGKILL');
      return inFlight();
    };

    const inFlightAtKills: string[][] = [];
    for (let i = 0; i < 8; i++) await sendWave(50);
    inFlightAtKills.push(await killMidDelivery(200));
    herald = await spawnHerald(dataDir, env);
    for (let i = 0; i < 6; i++) await sendWave(50);
    inFlightAtKills.push(await killMidDelivery(count(`status in ('sent', 'delivered')`) + 200));
    herald = await spawnHerald(dataDir, env);
    for (let i = 0; i < 6; i++) await sendWave(50);
    assert.equal(accepted.length, MESSAGES);

    const expectedDeliveries = MESSAGES * 2;
    await eventually(
      async () =>
        count(`status != 'queued'`) === expectedDeliveries && count('1 = 1') === expectedDeliveries
          ? true
          : undefined,
      180_000,
      'every delivery final',
    );

    // What the far side accepted, as (message, recipient:channel) copies.
    const deliveryRows = db
      .prepare(
        `select d.id, d.message_id, d.channel, u.external_id from deliveries d join users u on u.id = d.user_id`,
      )
      .all() as { id: string; message_id: string; channel: string; external_id: string }[];
    const byDelivery = new Map(deliveryRows.map((d) => [d.id, d]));
    const copies: { deliveryId: string; received: Received }[] = [];
    for (const mail of sink.messages) {
      const id = /^X-Herald-Delivery-Id: (\S+)$/im.exec(mail.raw)?.[1];
      const d = id ? byDelivery.get(id) : undefined;
      copies.push({
        deliveryId: id ?? '?',
        received: d
          ? { messageId: d.message_id, recipient: `${d.external_id}:email` }
          : { messageId: '?', recipient: mail.rcptTo.join(',') },
      });
    }
    for (const request of fake.accepted()) {
      const data = (
        request.body as { data: { messageId: string; recipient: { externalId: string } } }
      ).data;
      copies.push({
        deliveryId: request.webhookId ?? '?',
        received: { messageId: data.messageId, recipient: `${data.recipient.externalId}:webhook` },
      });
    }
    const result = check({
      accepted,
      recipientsOf: (m) => [`${recipientOf.get(m)}:email`, `${recipientOf.get(m)}:webhook`],
      received: copies.map((c) => c.received),
      stuck: count(`status = 'queued'`),
    });
    const seen = new Map<string, number>();
    for (const c of copies) seen.set(c.deliveryId, (seen.get(c.deliveryId) ?? 0) + 1);
    const duplicatedIds = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    const window = new Set(inFlightAtKills.flat());
    const attempts = db
      .prepare(`select avg(attempts) a, max(attempts) m from deliveries`)
      .get() as {
      a: number;
      m: number;
    };
    console.log(
      `# fault check: ${formatCheck(result)}; in flight at the kills: ${inFlightAtKills.map((s) => s.length).join(' + ')}; ` +
        `attempts per delivery: mean ${attempts.a.toFixed(2)}, max ${attempts.m}; ` +
        `refused by the providers: smtp ${sink.rcpts.length - sink.messages.length}, webhook ${fake.requests.length - fake.accepted().length}`,
    );
    assert.equal(result.expected, expectedDeliveries);
    assert.equal(result.lost, 0);
    assert.equal(result.unexpected, 0);
    assert.equal(result.stuck, 0);
    assert.equal(count(`status not in ('sent', 'delivered')`), 0, 'every delivery ends sent');
    assert.ok(
      duplicatedIds.every((id) => window.has(id)),
      `duplicates outside the in-flight window: ${duplicatedIds.filter((id) => !window.has(id))}`,
    );
    assert.ok(result.duplicated <= window.size);
    assert.equal(fake.stats().invalidSignatures, 0, 'every webhook was signed correctly');
    assert.ok(
      sink.rcpts.length > sink.messages.length && fake.requests.length > fake.accepted().length,
      'both providers really flapped',
    );
    db.close();
  });
});

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
