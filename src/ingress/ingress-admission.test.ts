import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { createApiKey, insertSource, revokeApiKey, type Source } from '../sources/sources-store.js';
import { admit, type Admission, type IngressMessage } from './ingress-admission.js';

const body = { category: 'exam.reminder', to: { users: ['2024010101'] } };
const limits = { bodyLimitBytes: 1024 };

function message(
  properties: IngressMessage['properties'],
  content: Buffer = Buffer.from(JSON.stringify(body)),
): IngressMessage {
  return { content, properties };
}

function problemCode(a: Admission): string {
  assert.ok('problem' in a, 'refused');
  return a.problem.code;
}

describe('admission of an AMQP message: who sent it and is it a message body', () => {
  let fresh: FreshDatabase;
  let jwc: Source;
  let hq: Source;
  let jwcKey: string;
  let revokedKey: string;

  before(async () => {
    fresh = await freshDatabase('ingress-admission');
    const now = Date.now();
    jwc = await insertSource(
      fresh.db,
      {
        key: 'jwc',
        name: '教务处',
        categories: ['exam.reminder'],
        quotas: { sms: 10 },
        amqpUser: 'jwc-mq',
      },
      now,
    );
    hq = await insertSource(fresh.db, { key: 'hq', name: '后勤处', categories: [] }, now);
    jwcKey = (await createApiKey(fresh.db, jwc.id, now)).secret;
    const revoked = await createApiKey(fresh.db, hq.id, now);
    await revokeApiKey(fresh.db, hq.id, revoked.info.id, now);
    revokedKey = revoked.secret;
  });
  after(() => fresh.close());

  it('names the source by its API key and turns message_id into the idempotency key', async () => {
    const a = await admit(
      fresh.db,
      message({ headers: { 'x-api-key': jwcKey }, messageId: 'notice-17' }),
      limits,
    );
    assert.ok('request' in a);
    assert.deepEqual(a.request, {
      sourceId: jwc.id,
      sourceKey: 'jwc',
      quotas: { sms: 10 },
      allowedCategories: ['exam.reminder'],
      body,
      idempotencyKey: 'notice-17',
    });
  });

  it('names the source by the broker-validated user_id mapped to it', async () => {
    const a = await admit(fresh.db, message({ userId: 'jwc-mq' }), limits);
    assert.ok('request' in a);
    assert.equal(a.request.sourceKey, 'jwc');
    assert.equal(a.request.idempotencyKey, null, 'no message_id, no key');
  });

  it('takes the key from authorization: Bearer and as bytes, whatever the header case', async () => {
    for (const headers of [
      { Authorization: `Bearer ${jwcKey}` },
      { 'X-API-Key': Buffer.from(jwcKey) },
    ]) {
      const a = await admit(fresh.db, message({ headers }), limits);
      assert.ok('request' in a, JSON.stringify(Object.keys(headers)));
      assert.equal(a.source.key, 'jwc');
    }
  });

  it('refuses a wrong or revoked key even when user_id names a source: a key present must be valid', async () => {
    const forged = jwcKey.slice(0, -4) + 'AAAA';
    for (const key of [forged, revokedKey, 'hk_nonsense']) {
      const a = await admit(
        fresh.db,
        message({ headers: { 'x-api-key': key }, userId: 'jwc-mq' }),
        limits,
      );
      assert.equal(problemCode(a), 'unauthenticated');
      assert.equal(a.source, null);
    }
  });

  it('refuses a message without credentials, or from a RabbitMQ user mapped to nothing', async () => {
    const none = await admit(fresh.db, message({}), limits);
    assert.equal(problemCode(none), 'unauthenticated');
    const stranger = await admit(fresh.db, message({ userId: 'guest' }), limits);
    assert.equal(problemCode(stranger), 'unauthenticated');
    assert.match((stranger as { problem: Error }).problem.message, /guest names no source/);
  });

  it('checks content type, encoding and size like the HTTP API (415, 413), then the body', async () => {
    const from = { headers: { 'x-api-key': jwcKey } };
    const text = await admit(fresh.db, message({ ...from, contentType: 'text/plain' }), limits);
    assert.equal(problemCode(text), 'unsupported-media-type');
    const gzip = await admit(fresh.db, message({ ...from, contentEncoding: 'gzip' }), limits);
    assert.equal(problemCode(gzip), 'unsupported-media-type');
    const big = await admit(
      fresh.db,
      message(from, Buffer.from(JSON.stringify({ ...body, data: { x: 'a'.repeat(2000) } }))),
      limits,
    );
    assert.equal(problemCode(big), 'body-too-large');
    const json = await admit(
      fresh.db,
      message({ ...from, contentType: 'application/json; charset=utf-8' }),
      limits,
    );
    assert.ok('request' in json);
    const bad = await admit(fresh.db, message(from, Buffer.from('{"to": {}}')), limits);
    assert.equal(problemCode(bad), 'validation-failed');
    assert.equal(bad.source?.key, 'jwc', 'the source is known, for the rejected copy');
  });
});
