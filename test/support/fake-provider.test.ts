import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSecret, sign } from '../../src/webhooks/standard-webhooks.js';
import { behaviours, FakeProvider } from './fake-provider.js';

describe('fake webhook provider (test support)', () => {
  const secret = generateSecret();
  let fake: FakeProvider;

  before(async () => {
    fake = await FakeProvider.start({ secret });
  });
  after(() => fake.close());
  beforeEach(() => fake.clear());

  async function post(id: string, body = '{"hello":1}', key = secret) {
    const headers = sign({ id, timestamp: Math.floor(Date.now() / 1000), body, secret: key });
    return fetch(fake.url, { method: 'POST', headers, body });
  }

  it('answers the queue first, then the steady mode, and records everything', async () => {
    fake.next(behaviours.status(500), behaviours.tooMany(3)).steady(behaviours.status(404));
    const statuses = [];
    for (const id of ['a', 'b', 'c']) statuses.push((await post(id)).status);
    assert.deepEqual(statuses, [500, 429, 404]);
    assert.deepEqual(
      fake.requests.map((r) => [r.webhookId, r.answer, r.signatureValid]),
      [
        ['a', 500, true],
        ['b', 429, true],
        ['c', 404, true],
      ],
    );
    assert.deepEqual(fake.requests[0]!.body, { hello: 1 });
  });

  it('rejects a bad signature with 401 without using up a behaviour', async () => {
    fake.next(behaviours.status(503));
    assert.equal((await post('x', '{}', generateSecret())).status, 401);
    assert.equal((await post('y')).status, 503);
    assert.deepEqual(fake.stats(), {
      requests: 2,
      validSignatures: 1,
      invalidSignatures: 1,
      accepted: 0,
      uniqueAccepted: 0,
      duplicates: 0,
    });
  });

  it('counts unique accepted webhook-ids and duplicates', async () => {
    for (const id of ['a', 'a', 'b', 'a']) await post(id);
    assert.deepEqual(
      [...fake.acceptedCounts()],
      [
        ['a', 3],
        ['b', 1],
      ],
    );
    assert.equal(fake.stats().uniqueAccepted, 2);
    assert.equal(fake.stats().duplicates, 2);
  });

  it('flaps the same way for the same seed', async () => {
    const run = async () => {
      fake.clear().flap({ p: 0.5, seed: 42 });
      const answers = [];
      for (let i = 0; i < 20; i++) answers.push((await post(`m${i}`)).status);
      return answers;
    };
    const first = await run();
    assert.deepEqual(await run(), first);
    assert.ok(first.includes(503) && first.includes(200), first.join(','));
  });

  it('is scripted over HTTP too', async () => {
    const control = await fetch(fake.url.replace('/hook', '/_control'), {
      method: 'POST',
      body: JSON.stringify({ next: [{ status: 502 }], steady: { status: 400 } }),
    });
    assert.equal(control.status, 200);
    assert.equal((await post('a')).status, 502);
    assert.equal((await post('b')).status, 400);
    const stats = (await (await fetch(fake.url.replace('/hook', '/_control'))).json()) as {
      requests: number;
    };
    assert.equal(stats.requests, 2);
  });

  it('resets a connection, delays, and hangs until closed', async () => {
    fake.next('reset', behaviours.slow(100));
    await assert.rejects(post('r'));
    const started = Date.now();
    assert.equal((await post('s')).status, 200);
    assert.ok(Date.now() - started >= 90);
    fake.next('hang');
    const hanging = post('h', '{}').catch((err: unknown) => err);
    await fake.waitFor((f) => f.requests.length === 3);
    assert.equal(fake.inFlight, 1);
    assert.deepEqual(
      fake.requests.map((r) => r.answer),
      ['reset', 200, 'hang'],
    );
    await fake.close();
    assert.ok((await hanging) instanceof Error, 'the hanging request ends when the fake closes');
    fake = await FakeProvider.start({ secret });
  });
});
