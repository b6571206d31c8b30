import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { CallbackReceiver, type ReceivedCallback } from '../support/callback-receiver.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

type Client = ReturnType<typeof client>;

const ALICE = '2024010101';
const BOB = '2024010102';

/** The events a receiver got about one message, each event once (its first arrival). */
function eventsOf(receiver: CallbackReceiver, messageId: string): ReceivedCallback[] {
  const seen = new Set<string>();
  return receiver.received.filter((r) => {
    if (r.event?.data.messageId !== messageId || seen.has(r.id)) return false;
    seen.add(r.id);
    return true;
  });
}

function one(events: ReceivedCallback[], type: string): ReceivedCallback {
  const found = events.filter((e) => e.event?.type === type);
  assert.equal(found.length, 1, `exactly one ${type} event`);
  return found[0]!;
}

function output(child: ChildProcess): { stdout(): string; stderr(): string } {
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  return { stdout: () => out, stderr: () => err };
}

async function metric(url: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^herald_callback_events_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(
    text,
  );
  return m ? Number(m[1]) : 0;
}

describe('status callbacks: a source hears about its messages, signed', () => {
  let t: TestHerald;
  let admin: Client;
  let jwc: Client;
  let lib: Client;
  let alice: Client;
  let bob: Client;
  let jwcReceiver: CallbackReceiver;
  let libReceiver: CallbackReceiver;

  before(async () => {
    jwcReceiver = await CallbackReceiver.start();
    libReceiver = await CallbackReceiver.start('/lib?token=in-the-query');
    // Loopback is refused unless allow-listed; retries are quick for the test.
    t = await startTestHerald({
      HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
      HERALD_CALLBACK_RETRY_BASE_MS: '50',
      HERALD_CALLBACK_RETRY_CAP_MS: '200',
    });
    admin = client(t.url, ADMIN_TOKEN);
    jwc = client(t.url, t.keys.jwc);
    lib = client(t.url, t.keys.lib);
    const login = async (externalId: string) =>
      (await client(t.url)('POST', '/v1/auth/login', { externalId, password: t.password })).body
        .token as string;
    alice = client(t.url, await login(ALICE));
    bob = client(t.url, await login(BOB));
  });
  after(async () => {
    await t.close();
    await jwcReceiver.close();
    await libReceiver.close();
  });

  it('creates the signing secret on the first PUT, shows it once and never again', async () => {
    const first = await admin('PUT', '/v1/sources/jwc/callback', { url: jwcReceiver.url });
    assert.equal(first.status, 201);
    assert.match(first.body.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.deepEqual(
      { url: first.body.url, events: first.body.events, secretSet: first.body.secretSet },
      { url: jwcReceiver.url, events: null, secretSet: true },
    );
    const secret = first.body.secret as string;
    jwcReceiver.secret = secret;

    const shown = await admin('GET', '/v1/sources/jwc/callback');
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body, { url: jwcReceiver.url, events: null, secretSet: true });

    const again = await admin('PUT', '/v1/sources/jwc/callback', {
      url: jwcReceiver.url,
      events: ['message.accepted', 'delivery.read'],
    });
    assert.equal(again.status, 200, 'a later PUT keeps the secret');
    assert.equal(again.body.secret, undefined);
    assert.deepEqual(again.body.events, ['message.accepted', 'delivery.read']);
    assert.equal(
      (await admin('PUT', '/v1/sources/jwc/callback', { url: jwcReceiver.url })).status,
      200,
    );

    // Nowhere in the API does the secret appear again.
    for (const path of ['/v1/sources/jwc/callback', '/v1/sources/jwc', '/v1/sources']) {
      const res = await fetch(t.url + path, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      assert.equal(res.status, 200);
      assert.ok(!(await res.text()).includes(secret.slice(6)), `${path} does not show the secret`);
    }
  });

  it('refuses URLs that are not http(s) or carry credentials, and unknown event types', async () => {
    for (const url of ['ftp://example.edu/x', 'http://user:pw@example.edu/x', 'not a url']) {
      const res = await admin('PUT', '/v1/sources/xsc/callback', { url });
      assert.equal(res.status, 400, url);
      assert.equal(res.body.code, 'validation-failed');
    }
    const badType = await admin('PUT', '/v1/sources/xsc/callback', {
      url: 'https://example.edu/x',
      events: ['delivery.exploded'],
    });
    assert.equal(badType.status, 400);
    assert.equal((await admin('GET', '/v1/sources/xsc/callback')).status, 404, 'nothing stored');
  });

  it('lets a source see its own callback with its API key, and no other', async () => {
    const own = await jwc('GET', '/v1/sources/jwc/callback');
    assert.equal(own.status, 200);
    assert.equal(own.body.url, jwcReceiver.url);
    const other = await jwc('GET', '/v1/sources/lib/callback');
    assert.equal(other.status, 403);
  });

  it('reports accepted, delivered and suppressed events with their data, then read', async () => {
    // Bob turns the category off: his delivery is suppressed (opted-out).
    const off = await bob('PUT', '/v1/me/preferences', {
      categories: [{ key: 'exam.reminder', enabled: false }],
    });
    assert.equal(off.status, 200);
    const sent = await jwc('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users: [ALICE, BOB] },
      data: DEMO_EXAMPLES['exam.reminder'],
      channels: ['in_app'],
    });
    assert.equal(sent.status, 202);
    const messageId = sent.body.id as string;

    const events = await eventually(
      async () => {
        const got = eventsOf(jwcReceiver, messageId);
        return got.length >= 3 ? got : undefined;
      },
      10_000,
      'three events',
    );
    for (const e of jwcReceiver.received) {
      assert.equal(e.verifyError, null, `event ${e.id} verifies`);
      assert.equal(e.headers['content-type'], 'application/json');
    }
    const deliveries = (await jwc('GET', `/v1/messages/${messageId}/deliveries`)).body.items as {
      id: string;
      status: string;
      recipient?: { externalId: string };
      userId?: string;
    }[];

    const accepted = one(events, 'message.accepted');
    assert.deepEqual(accepted.event!.data, {
      messageId,
      status: 'accepted',
      category: 'exam.reminder',
    });

    const delivered = one(events, 'delivery.delivered');
    const dData = delivered.event!.data as Record<string, unknown>;
    assert.equal(dData.messageId, messageId);
    assert.equal(dData.channel, 'in_app');
    assert.equal(dData.status, 'delivered');
    assert.equal(dData.attempts, 1);
    assert.deepEqual(dData.recipient, { externalId: ALICE });
    assert.equal(typeof dData.provider, 'string');
    assert.equal(typeof dData.userId, 'string');

    const suppressed = one(events, 'delivery.suppressed');
    const sData = suppressed.event!.data as Record<string, unknown>;
    assert.equal(sData.status, 'suppressed');
    assert.equal(sData.reason, 'opted-out');
    assert.deepEqual(sData.recipient, { externalId: BOB });

    const byStatus = new Map(deliveries.map((d) => [d.status, d.id]));
    assert.equal(dData.deliveryId, byStatus.get('delivered'));
    assert.equal(sData.deliveryId, byStatus.get('suppressed'));
    // Standard Webhooks: webhook-id is the event id, each event its own.
    assert.equal(new Set(events.map((e) => e.id)).size, events.length);
    for (const e of events) {
      assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
      assert.ok(!Number.isNaN(Date.parse(e.event!.timestamp)));
      assert.ok(Math.abs(Number(e.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
    }

    // Alice reads it: one delivery.read for her delivery.
    const inbox = await alice('GET', '/v1/me/inbox');
    const item = inbox.body.items.find((i: { messageId: string }) => i.messageId === messageId);
    assert.ok(item, 'the message is in her inbox');
    assert.equal((await alice('POST', `/v1/me/inbox/${item.id}/read`)).status, 200);
    const read = await eventually(
      async () => eventsOf(jwcReceiver, messageId).find((e) => e.event?.type === 'delivery.read'),
      10_000,
      'the read event',
    );
    assert.equal(read.verifyError, null);
    assert.deepEqual(
      {
        deliveryId: read.event!.data.deliveryId,
        status: read.event!.data.status,
        recipient: read.event!.data.recipient,
      },
      { deliveryId: dData.deliveryId, status: 'read', recipient: { externalId: ALICE } },
    );
    // Marking it read again changes nothing, so nothing more is sent.
    await alice('POST', `/v1/me/inbox/${item.id}/read`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      eventsOf(jwcReceiver, messageId).filter((e) => e.event?.type === 'delivery.read').length,
      1,
    );
  });

  it('sends delivery.read for each item "mark all read" marks', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const sent = await jwc('POST', '/v1/messages', {
        category: 'exam.reminder',
        to: { users: [ALICE] },
        data: DEMO_EXAMPLES['exam.reminder'],
        channels: ['in_app'],
      });
      ids.push(sent.body.id as string);
    }
    await eventually(
      async () =>
        ids.every((id) =>
          eventsOf(jwcReceiver, id).some((e) => e.event?.type === 'delivery.delivered'),
        )
          ? true
          : undefined,
      10_000,
      'both delivered',
    );
    const marked = await alice('POST', '/v1/me/inbox/read-all');
    assert.equal(marked.status, 200);
    assert.ok(marked.body.marked >= 2);
    await eventually(
      async () =>
        ids.every((id) => eventsOf(jwcReceiver, id).some((e) => e.event?.type === 'delivery.read'))
          ? true
          : undefined,
      10_000,
      'a read event per message',
    );
  });

  it('only sends the event types a source asked for', async () => {
    libReceiver.secret = (
      await admin('PUT', '/v1/sources/lib/callback', {
        url: libReceiver.url,
        events: ['delivery.delivered'],
      })
    ).body.secret as string;
    const sent = await lib('POST', '/v1/messages', {
      category: 'library.due',
      to: { users: [ALICE] },
      data: DEMO_EXAMPLES['library.due'],
      channels: ['in_app'],
    });
    const messageId = sent.body.id as string;
    await eventually(
      async () => (eventsOf(libReceiver, messageId).length > 0 ? true : undefined),
      10_000,
      'the delivered event',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      eventsOf(libReceiver, messageId).map((e) => e.event?.type),
      ['delivery.delivered'],
    );
    assert.ok(libReceiver.received.every((r) => r.verifyError === null));
  });

  it('retries a failing receiver with the same webhook-id until it answers 2xx', async () => {
    await admin('PUT', '/v1/sources/lib/callback', {
      url: libReceiver.url,
      events: ['message.accepted'],
    });
    // Every event fails twice with 500, then succeeds.
    libReceiver.respond = (request) => ({
      status: libReceiver.received.filter((r) => r.id === request.id).length < 2 ? 500 : 204,
    });
    const sent = await lib('POST', '/v1/messages', {
      category: 'library.due',
      to: { users: [ALICE] },
      data: DEMO_EXAMPLES['library.due'],
      channels: ['in_app'],
    });
    const messageId = sent.body.id as string;
    const attempts = await eventually(
      async () => {
        const got = libReceiver.received.filter((r) => r.event?.data.messageId === messageId);
        return got.some((r) => r.answered === 204) ? got : undefined;
      },
      10_000,
      'a successful attempt',
    );
    assert.deepEqual(
      attempts.map((a) => a.answered),
      [500, 500, 204],
    );
    assert.equal(new Set(attempts.map((a) => a.id)).size, 1, 'one webhook-id on every attempt');
    assert.ok(
      attempts.every((a) => a.verifyError === null),
      'every attempt is signed anew',
    );
    assert.equal(attempts[0]!.rawBody, attempts[2]!.rawBody, 'the same event each time');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      libReceiver.received.filter((r) => r.event?.data.messageId === messageId).length,
      3,
      'not sent again after the success',
    );
    libReceiver.respond = () => ({ status: 204 });
  });

  it('pings the receiver on demand and reports its answer', async () => {
    const ok = await admin('POST', '/v1/sources/jwc/callback/test');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ok, true);
    assert.equal(ok.body.status, 204);
    const ping = jwcReceiver.received.find((r) => r.id === ok.body.webhookId);
    assert.ok(ping, 'the receiver got the ping');
    assert.equal(ping.verifyError, null);
    assert.equal(ping.event?.type, 'ping');

    jwcReceiver.respond = () => ({ status: 410 });
    const gone = await admin('POST', '/v1/sources/jwc/callback/test');
    assert.deepEqual([gone.status, gone.body.ok, gone.body.status], [200, false, 410]);
    jwcReceiver.respond = () => ({ status: 204 });
  });

  it('rotates the secret: the new one is shown once and signs what follows', async () => {
    const old = jwcReceiver.secret!;
    const rotated = await admin('POST', '/v1/sources/jwc/callback/rotate-secret');
    assert.equal(rotated.status, 200);
    assert.match(rotated.body.secret, /^whsec_/);
    assert.notEqual(rotated.body.secret, old);
    jwcReceiver.secret = rotated.body.secret as string;
    const ping = await admin('POST', '/v1/sources/jwc/callback/test');
    const got = jwcReceiver.received.find((r) => r.id === ping.body.webhookId);
    assert.equal(got?.verifyError, null, 'verifies with the new secret');
    jwcReceiver.secret = old;
    const stale = await admin('POST', '/v1/sources/jwc/callback/test');
    const notWithOld = jwcReceiver.received.find((r) => r.id === stale.body.webhookId);
    assert.equal(notWithOld?.verifyError, 'no-matching-signature', 'the old secret is void');
    jwcReceiver.secret = rotated.body.secret as string;
  });

  it('the receiver example of docs/callbacks.md verifies real callbacks and spots forgeries', async () => {
    const xsc = client(t.url, t.keys.xsc);
    const first = await admin('PUT', '/v1/sources/xsc/callback', { url: 'https://later.invalid/' });
    const secret = first.body.secret as string;
    const example = spawn(process.execPath, ['docs/examples/callback-receiver.mjs'], {
      env: { PATH: process.env.PATH ?? '', HERALD_CALLBACK_SECRET: secret, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const lines = output(example);
      const listening = await eventually(
        async () => /listening on (http:\S+)/.exec(lines.stderr())?.[1],
        10_000,
        'the example to listen',
      );
      await admin('PUT', '/v1/sources/xsc/callback', { url: `${listening}/herald/events` });
      const sent = await xsc('POST', '/v1/messages', {
        category: 'activity.notice',
        to: { users: [ALICE] },
        data: DEMO_EXAMPLES['activity.notice'],
        channels: ['in_app'],
      });
      const printed = await eventually(
        async () => {
          const events = lines
            .stdout()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { type: string; data: { messageId: string } });
          const types = events.filter((e) => e.data.messageId === sent.body.id).map((e) => e.type);
          return types.includes('message.accepted') && types.includes('delivery.delivered')
            ? types
            : undefined;
        },
        10_000,
        'the example to print the events',
      );
      assert.deepEqual(printed.sort(), ['delivery.delivered', 'message.accepted']);

      const forged = await fetch(`${listening}/herald/events`, {
        method: 'POST',
        headers: {
          'webhook-id': 'msg_forged',
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': 'v1,bm90IGEgcmVhbCBzaWduYXR1cmUgYXQgYWxsIG5vIG5v',
        },
        body: JSON.stringify({ type: 'delivery.read', timestamp: '', data: {} }),
      });
      assert.equal(forged.status, 400);
      // Its log line travels through a pipe: it may arrive after the answer.
      await eventually(
        async () => (/rejected: no valid signature/.test(lines.stderr()) ? true : undefined),
        5_000,
        'the example to log the forgery',
      );
    } finally {
      example.kill();
      await once(example, 'exit');
    }
  });

  it('stops sending once the callback is deleted', async () => {
    assert.equal((await admin('DELETE', '/v1/sources/jwc/callback')).status, 204);
    assert.equal((await admin('GET', '/v1/sources/jwc/callback')).status, 404);
    assert.equal((await admin('DELETE', '/v1/sources/jwc/callback')).status, 404);
    const sent = await jwc('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users: [ALICE] },
      data: DEMO_EXAMPLES['exam.reminder'],
      channels: ['in_app'],
    });
    const messageId = sent.body.id as string;
    await eventually(
      async () => {
        const list = await jwc('GET', `/v1/messages/${messageId}/deliveries`);
        return list.body.items[0]?.status === 'delivered' ? true : undefined;
      },
      10_000,
      'delivered',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(eventsOf(jwcReceiver, messageId).length, 0);
  });
});

describe('status callbacks: the SSRF guard', () => {
  let t: TestHerald;
  let receiver: CallbackReceiver;

  before(async () => {
    receiver = await CallbackReceiver.start();
    // No HERALD_OUTBOUND_ALLOW_CIDRS: loopback is off limits.
    t = await startTestHerald({ HERALD_CALLBACK_RETRY_BASE_MS: '50' });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  it('refuses a loopback receiver at connect time: nothing is sent', async () => {
    const admin = client(t.url, ADMIN_TOKEN);
    const set = await admin('PUT', '/v1/sources/jwc/callback', { url: receiver.url });
    assert.equal(set.status, 201, 'the URL is well-formed; where it leads is checked on connect');
    receiver.secret = set.body.secret as string;

    const ping = await admin('POST', '/v1/sources/jwc/callback/test');
    assert.equal(ping.status, 502);
    assert.equal(ping.body.code, 'callback-unreachable');
    assert.equal(ping.body.reason, 'refused');
    assert.match(ping.body.detail, /127\.0\.0\.1 is a loopback address/);

    const sent = await client(t.url, t.keys.jwc)('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users: [ALICE] },
      data: DEMO_EXAMPLES['exam.reminder'],
      channels: ['in_app'],
    });
    assert.equal(sent.status, 202);
    // accepted and delivered: both given up as refused, not retried.
    await eventually(
      async () => ((await metric(t.url, 'refused')) >= 2 ? true : undefined),
      10_000,
      'two refused events',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await metric(t.url, 'retried'), 0);
    assert.equal(receiver.received.length, 0, 'not one request reached the receiver');
  });
});
