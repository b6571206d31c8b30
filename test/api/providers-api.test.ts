import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { simpleParser } from 'mailparser';
import { buildApp, type Herald } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { verify } from '../../src/webhooks/standard-webhooks.js';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { behaviours, FakeProvider } from '../support/fake-provider.js';
import { startSink, type SmtpSink } from '../support/smtp-sink.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

type Call = ReturnType<typeof client>;

const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SMTP_PASSWORD = 'relay-Pa55word-never-shown';

function assertProblem(res: Awaited<ReturnType<Call>>, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.body.code, code);
  return res.body;
}

describe('provider configuration API', () => {
  let t: TestHerald;
  let admin: Call;
  let fake: FakeProvider;
  let sink: SmtpSink;

  before(async () => {
    fake = await FakeProvider.start();
    sink = await startSink();
    t = await startTestHerald({ HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8' });
    admin = client(t.url, ADMIN_TOKEN);
  });
  after(async () => {
    await t.close();
    await fake.close();
    await sink.close();
  });
  beforeEach(async () => {
    fake.clear();
    for (const p of (await admin('GET', '/v1/providers')).body.items as { name: string }[]) {
      await admin('DELETE', `/v1/providers/${p.name}`);
    }
  });

  const smtp = (over: Record<string, unknown> = {}) => ({
    name: 'relay-a',
    kind: 'smtp',
    settings: {
      url: `smtp://127.0.0.1:${sink.port}`,
      user: 'herald',
      from: 'XX农业大学 <noreply@example.edu.cn>',
    },
    secrets: { password: SMTP_PASSWORD },
    ...over,
  });

  it('is for admins only', async () => {
    assertProblem(await client(t.url)('GET', '/v1/providers'), 401, 'unauthenticated');
    assertProblem(
      await client(t.url, t.keys.jwc)('POST', '/v1/providers', smtp()),
      403,
      'forbidden',
    );
  });

  it('creates, lists, reads, changes and deletes a provider; secrets are write-only', async () => {
    const created = await admin('POST', '/v1/providers', {
      ...smtp(),
      priority: 2,
      limits: { ratePerSecond: 50, burst: 100, timeoutMs: 15_000 },
    });
    assert.equal(created.status, 201);
    const { createdAt, updatedAt, ...rest } = created.body;
    assert.match(createdAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(updatedAt, createdAt);
    assert.deepEqual(rest, {
      name: 'relay-a',
      kind: 'smtp',
      channel: 'email',
      priority: 2,
      weight: 1,
      enabled: true,
      settings: smtp().settings,
      secretsSet: ['password'],
      limits: { ratePerSecond: 50, burst: 100, timeoutMs: 15_000 },
    });

    const list = await admin('GET', '/v1/providers');
    assert.deepEqual(
      list.body.items.map((p: { name: string }) => p.name),
      ['relay-a'],
    );
    const one = await admin('GET', '/v1/providers/relay-a');
    assert.deepEqual(one.body, created.body);
    for (const res of [created, list, one]) {
      assert.ok(!JSON.stringify(res.body).includes(SMTP_PASSWORD), 'the password never comes back');
    }

    // A given secret replaces, an absent one is kept, null removes.
    const changed = await admin('PATCH', '/v1/providers/relay-a', {
      weight: 5,
      secrets: { password: 'another-one' },
      limits: { burst: null, ratePerSecond: null, concurrency: 3 },
    });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.weight, 5);
    assert.equal(changed.body.priority, 2);
    assert.deepEqual(changed.body.secretsSet, ['password']);
    assert.deepEqual(changed.body.limits, { timeoutMs: 15_000, concurrency: 3 });
    assert.ok(!JSON.stringify(changed.body).includes('another-one'));

    const anonymous = await admin('PATCH', '/v1/providers/relay-a', {
      settings: { user: null },
      secrets: { password: null },
    });
    assert.equal(anonymous.status, 200);
    assert.deepEqual(anonymous.body.secretsSet, []);
    assert.equal(anonymous.body.settings.user, undefined);

    assert.equal((await admin('DELETE', '/v1/providers/relay-a')).status, 204);
    assertProblem(await admin('GET', '/v1/providers/relay-a'), 404, 'not-found');
    assertProblem(await admin('DELETE', '/v1/providers/relay-a'), 404, 'not-found');
    assertProblem(await admin('PATCH', '/v1/providers/relay-a', { weight: 1 }), 404, 'not-found');
  });

  it('generates a webhook signing secret when none is given and shows it once', async () => {
    const created = await admin('POST', '/v1/providers', {
      name: 'campus-app',
      kind: 'webhook',
      settings: { url: fake.url },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.channel, 'webhook');
    const secret = created.body.signingSecret as string;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(created.body.secretsSet, ['signingSecret']);
    assert.deepEqual(created.body.limits, {});
    for (const res of [
      await admin('GET', '/v1/providers/campus-app'),
      await admin('GET', '/v1/providers'),
      await admin('PATCH', '/v1/providers/campus-app', { priority: 1 }),
    ]) {
      assert.equal(res.status, 200);
      assert.ok(!JSON.stringify(res.body).includes(secret.slice(6)), 'shown only at creation');
      assert.ok(!('signingSecret' in res.body));
    }
    // It is the secret the provider signs with.
    fake.secret = secret;
    const test = await admin('POST', '/v1/providers/campus-app/test', { to: 'u-1' });
    assert.equal(test.status, 200, JSON.stringify(test.body));
    assert.equal(fake.requests[0]!.signatureValid, true);

    // A secret the operator chose is not echoed back.
    const own = await admin('POST', '/v1/providers', {
      name: 'campus-app-2',
      kind: 'webhook',
      settings: { url: fake.url },
      secrets: { signingSecret: WEBHOOK_SECRET },
    });
    assert.equal(own.status, 201);
    assert.ok(!('signingSecret' in own.body));
    assert.ok(!JSON.stringify(own.body).includes(WEBHOOK_SECRET.slice(6)));
  });

  it('refuses invalid configurations with the path of every problem, storing nothing', async () => {
    const cases: [Record<string, unknown>, string, RegExp?][] = [
      [{ ...smtp(), name: 'Relay A' }, 'body/name'],
      [{ ...smtp(), kind: 'pigeon' }, 'body/kind'],
      [{ ...smtp(), channel: 'email' }, 'body/channel'],
      [
        { ...smtp(), settings: { ...smtp().settings, port: 25 } },
        'body/settings/port',
        /not allowed/,
      ],
      [
        { ...smtp(), settings: { ...smtp().settings, url: 'http://127.0.0.1:25' } },
        'body/settings/url',
        /smtp: or smtps:/,
      ],
      [
        {
          ...smtp(),
          settings: { ...smtp().settings, url: `smtp://herald:${SMTP_PASSWORD}@127.0.0.1:25` },
        },
        'body/settings/url',
        /must not hold credentials/,
      ],
      [
        { ...smtp(), settings: { ...smtp().settings, url: 'smtp://127.0.0.1:25/path?x=1' } },
        'body/settings/url',
        /no path or query/,
      ],
      [
        { ...smtp(), settings: { ...smtp().settings, from: 'a@x.edu, b@x.edu' } },
        'body/settings/from',
        /not one email address/,
      ],
      [{ ...smtp(), settings: { ...smtp().settings, replyTo: 'nobody' } }, 'body/settings/replyTo'],
      [
        { ...smtp(), settings: { ...smtp().settings, maxConnections: 0 } },
        'body/settings/maxConnections',
      ],
      [{ ...smtp(), secrets: {} }, 'body/secrets/password', /required with settings.user/],
      [{ ...smtp(), secrets: { password: 'x', token: 'y' } }, 'body/secrets/token', /not allowed/],
      [{ ...smtp(), limits: { fast: true } }, 'body/limits'],
      [{ ...smtp(), limits: { timeoutMs: 10 } }, 'body/limits/timeoutMs'],
      [{ ...smtp(), limits: { burst: 10 } }, 'body/limits/burst', /needs limits.ratePerSecond/],
      [{ ...smtp(), limits: { breaker: { failures: 3 } } }, 'body/limits/breaker'],
      [
        { name: 'hook', kind: 'webhook', settings: { url: 'ftp://example.edu.cn/x' } },
        'body/settings/url',
        /http: or https:/,
      ],
      [
        { name: 'hook', kind: 'webhook', settings: { url: 'https://u:p@example.edu.cn/x' } },
        'body/settings/url',
        /credentials/,
      ],
      [
        {
          name: 'hook',
          kind: 'webhook',
          settings: { url: 'https://example.edu.cn/x' },
          secrets: { signingSecret: 'plain-text-secret' },
        },
        'body/secrets/signingSecret',
        /whsec_/,
      ],
      [
        {
          name: 'hook',
          kind: 'webhook',
          settings: { url: 'https://example.edu.cn/x', from: 'a@b.cn' },
        },
        'body/settings/from',
        /not allowed/,
      ],
    ];
    for (const [body, path, message] of cases) {
      const res = await admin('POST', '/v1/providers', body);
      const problem = assertProblem(res, 400, 'validation-failed');
      const issue = (problem.errors as { path: string; message: string }[]).find((e) =>
        e.path.startsWith(path),
      );
      assert.ok(issue, `${JSON.stringify(body)} → ${JSON.stringify(problem.errors)}`);
      if (message) assert.match(issue.message, message);
      assert.ok(!JSON.stringify(problem).includes(SMTP_PASSWORD), 'no secret in a problem');
      assert.ok(!JSON.stringify(problem).includes('plain-text-secret'));
    }
    assert.deepEqual((await admin('GET', '/v1/providers')).body.items, []);

    // A change is validated merged with what is stored; a refused one changes nothing.
    assert.equal((await admin('POST', '/v1/providers', smtp())).status, 201);
    const before = await admin('GET', '/v1/providers/relay-a');
    assertProblem(
      await admin('PATCH', '/v1/providers/relay-a', { secrets: { password: null } }),
      400,
      'validation-failed',
    );
    assertProblem(
      await admin('PATCH', '/v1/providers/relay-a', { kind: 'webhook' }),
      400,
      'validation-failed',
    );
    assertProblem(
      await admin('PATCH', '/v1/providers/relay-a', { settings: { url: 'smtp://' } }),
      400,
      'validation-failed',
    );
    assert.deepEqual((await admin('GET', '/v1/providers/relay-a')).body, before.body);
    assertProblem(await admin('POST', '/v1/providers', smtp()), 409, 'conflict');
  });

  it('sends one test message through a webhook provider and reports the outcome', async () => {
    const created = await admin('POST', '/v1/providers', {
      name: 'campus-app',
      kind: 'webhook',
      settings: { url: fake.url },
      enabled: false,
    });
    fake.secret = created.body.signingSecret as string;
    const ok = await admin('POST', '/v1/providers/campus-app/test', { to: 'u-42' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ok, true);
    assert.equal(ok.body.providerMessageId, 'fake-1');
    assert.ok(Number.isInteger(ok.body.durationMs) && ok.body.durationMs >= 0);
    assert.equal(fake.requests.length, 1);
    const r = fake.requests[0]!;
    const { id } = verify({ headers: r.headers, body: r.rawBody, secret: fake.secret });
    const body = r.body as { type: string; data: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(body.type, 'message.created');
    assert.equal(body.data.deliveryId, id);
    assert.equal(body.data.recipient.id, 'u-42');
    assert.equal(body.data.category, 'herald.test');
    assert.match(body.data.content.body, /provider "campus-app"/);

    fake.next(behaviours.status(503));
    const transient = assertProblem(
      await admin('POST', '/v1/providers/campus-app/test', {}),
      502,
      'provider-test-failed',
    );
    assert.equal(transient.kind, 'transient');
    assert.match(transient.error, /^HTTP 503 from http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(transient.detail, /^campus-app: HTTP 503/);

    fake.next(behaviours.status(404));
    const permanent = assertProblem(
      await admin('POST', '/v1/providers/campus-app/test', {}),
      502,
      'provider-test-failed',
    );
    assert.equal(permanent.kind, 'permanent');

    // With its own guards: the timeout of its limits cuts a hang.
    await admin('PATCH', '/v1/providers/campus-app', { limits: { timeoutMs: 200 } });
    fake.next('hang');
    const hung = assertProblem(
      await admin('POST', '/v1/providers/campus-app/test', {}),
      502,
      'provider-test-failed',
    );
    assert.equal(hung.kind, 'transient');
    assert.match(hung.error, /200 ms/);
    assert.equal(fake.requests.length, 4, 'one request per test, never retried');

    assertProblem(await admin('POST', '/v1/providers/nope/test', {}), 404, 'not-found');
  });

  it('sends one test email through an smtp provider', async () => {
    await admin(
      'POST',
      '/v1/providers',
      smtp({ settings: { ...smtp().settings, user: undefined }, secrets: {} }),
    );
    const before = sink.messages.length;
    const ok = await admin('POST', '/v1/providers/relay-a/test', {
      to: 'it-office@example.edu.cn',
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(sink.messages.length, before + 1);
    const mail = sink.messages.at(-1)!;
    assert.deepEqual(mail.rcptTo, ['it-office@example.edu.cn']);
    const parsed = await simpleParser(mail.raw);
    assert.match(parsed.subject ?? '', /Herald test message through provider "relay-a"/);
    assert.equal(parsed.from?.value[0]?.address, 'noreply@example.edu.cn');

    assertProblem(
      await admin('POST', '/v1/providers/relay-a/test', { to: 'not an address' }),
      400,
      'validation-failed',
    );
    assertProblem(await admin('POST', '/v1/providers/relay-a/test', {}), 400, 'validation-failed');

    sink.reply = { kind: 'reject', at: 'rcpt', code: 550 };
    try {
      const refused = assertProblem(
        await admin('POST', '/v1/providers/relay-a/test', { to: 'gone@example.edu.cn' }),
        502,
        'provider-test-failed',
      );
      assert.equal(refused.kind, 'permanent');
      assert.match(refused.error, /550/);
    } finally {
      sink.reply = { kind: 'accept' };
    }
  });

  it('serves the email channel from a configured relay instead of the sandbox', async () => {
    const jwc = client(t.url, t.keys.jwc);
    await admin(
      'POST',
      '/v1/providers',
      smtp({ settings: { ...smtp().settings, user: undefined }, secrets: {} }),
    );
    const before = sink.messages.length;
    const res = await jwc('POST', '/v1/messages', {
      category: 'course.change',
      to: { users: ['2024010101'] },
      data: DEMO_EXAMPLES['course.change'],
      channels: ['email'],
    });
    assert.equal(res.status, 202);
    const d = await eventually(async () => {
      const list = await jwc('GET', `/v1/messages/${res.body.id}/deliveries`);
      const item = list.body.items[0];
      return item?.status === 'sent' ? item : undefined;
    });
    assert.equal(d.provider, 'relay-a');
    assert.equal(sink.messages.length, before + 1);
  });
});

describe('provider secrets in the log', () => {
  let herald: Herald;
  let dataDir: string;
  let fake: FakeProvider;
  let sink: SmtpSink;
  const lines: string[] = [];

  before(async () => {
    fake = await FakeProvider.start();
    sink = await startSink();
    dataDir = mkdtempSync(join(tmpdir(), 'herald-test-'));
    const config = loadConfig({
      HERALD_DATA_DIR: dataDir,
      HERALD_PORT: '0',
      HERALD_HOST: '127.0.0.1',
      HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
      HERALD_DEMO: 'true',
      HERALD_WORKER_THREAD: 'false',
      HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
      HERALD_RETRY_BASE_MS: '20',
      HERALD_RETRY_CAP_MS: '50',
    });
    // Everything, at the most verbose level, into memory.
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    herald = await buildApp(config, { logger });
  });
  after(async () => {
    await herald.close();
    rmSync(dataDir, { recursive: true, force: true });
    await fake.close();
    await sink.close();
  });

  it('never writes a password or signing secret, whatever happens', async () => {
    const url = (await herald.start('all'))!;
    const admin = client(url, ADMIN_TOKEN);
    const jwc = client(url, herald.demo!.apiKeys.jwc);
    const hook = await admin('POST', '/v1/providers', {
      name: 'campus-app',
      kind: 'webhook',
      settings: { url: fake.url },
    });
    const generated = hook.body.signingSecret as string;
    fake.secret = generated;
    await admin('PATCH', '/v1/providers/campus-app', {
      secrets: { signingSecret: WEBHOOK_SECRET },
    });
    fake.secret = WEBHOOK_SECRET;
    await admin('POST', '/v1/providers', {
      name: 'relay-a',
      kind: 'smtp',
      settings: {
        url: `smtp://127.0.0.1:${sink.port}`,
        user: 'herald',
        from: 'noreply@example.edu.cn',
      },
      secrets: { password: SMTP_PASSWORD },
    });
    // Refused and failed requests, a failing test send, failing and retried deliveries.
    await admin('POST', '/v1/providers', {
      name: 'bad',
      kind: 'smtp',
      settings: { url: `smtp://herald:${SMTP_PASSWORD}@127.0.0.1:25`, from: 'x@y.cn' },
    });
    await admin('POST', '/v1/providers/relay-a/test', { to: 'it@example.edu.cn' });
    fake.next(behaviours.status(500));
    await admin('POST', '/v1/providers/campus-app/test', {});
    await admin('PUT', '/v1/templates/exam.reminder/webhook/zh-CN', { body: '{{ data.course }}' });
    fake.next(behaviours.status(500), 'reset');
    const sent = await jwc('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users: ['2024010101'] },
      data: DEMO_EXAMPLES['exam.reminder'],
      channels: ['webhook'],
    });
    await eventually(async () => {
      const list = await jwc('GET', `/v1/messages/${sent.body.id}/deliveries`);
      return list.body.items[0]?.status === 'sent' ? true : undefined;
    });
    assert.equal(fake.stats().accepted >= 1, true);

    const log = lines.join('');
    assert.ok(lines.length > 10, 'the log was captured');
    assert.match(log, /provider configuration loaded/);
    assert.ok(
      !lines.some((l) => l.includes('"level":50') && l.includes('provider-test-failed')),
      'a provider refusing a test message is an answer, not an error of Herald',
    );
    for (const secret of [generated, WEBHOOK_SECRET, SMTP_PASSWORD]) {
      assert.ok(!log.includes(secret), `the log does not contain ${secret.slice(0, 8)}…`);
      assert.ok(!log.includes(secret.slice(6, 30)), 'nor a part of it');
    }
  });
});
