import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  generateSecret,
  isValid,
  sign,
  verify,
  WebhookVerificationError,
} from './standard-webhooks.js';

/**
 * The published test vector of the Standard Webhooks reference libraries
 * (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts,
 * "sign function works"; the same values appear in the PHP, Python, Go… tests and in Svix's).
 */
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
} as const;

function rejection(reason: string) {
  return (err: unknown) => err instanceof WebhookVerificationError && err.reason === reason;
}

describe('Standard Webhooks', () => {
  it('reproduces the published test vector', () => {
    const headers = sign({
      id: VECTOR.id,
      timestamp: VECTOR.timestamp,
      body: VECTOR.body,
      secret: VECTOR.secret,
    });
    assert.deepEqual(headers, {
      'webhook-id': VECTOR.id,
      'webhook-timestamp': '1614265330',
      'webhook-signature': VECTOR.signature,
    });
    // Bytes, a Date and the prefix-less secret give the same signature.
    const again = sign({
      id: VECTOR.id,
      timestamp: new Date(VECTOR.timestamp * 1000),
      body: Buffer.from(VECTOR.body),
      secret: VECTOR.secret.slice('whsec_'.length),
    });
    assert.equal(again['webhook-signature'], VECTOR.signature);
  });

  it('verifies the published test vector, with extra and foreign signatures around it', () => {
    const result = verify({
      headers: {
        'Webhook-Id': VECTOR.id,
        'Webhook-Timestamp': String(VECTOR.timestamp),
        'Webhook-Signature': `v1a,bm9wZQ== v1,bm9wZQ== ${VECTOR.signature} v2,abc`,
      },
      body: VECTOR.body,
      secret: VECTOR.secret,
      now: VECTOR.timestamp + 10,
    });
    assert.deepEqual(result, { id: VECTOR.id, timestamp: VECTOR.timestamp });
  });

  it('round-trips sign → verify with a generated secret, also through fetch Headers', () => {
    const secret = generateSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32);
    const body = JSON.stringify({ type: 'delivery.sent', data: { id: 'd1', text: 'héllo ✓' } });
    const headers = sign({ id: 'evt_1', timestamp: new Date(), body, secret });
    assert.deepEqual(verify({ headers, body, secret }).id, 'evt_1');
    assert.equal(isValid({ headers: new Headers({ ...headers }), body, secret }), true);
  });

  it('signs with every secret during a rotation; the receiver accepts either', () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const body = '{}';
    const headers = sign({
      id: 'evt_2',
      timestamp: 1_700_000_000,
      body,
      secret: [newSecret, oldSecret],
    });
    assert.equal(headers['webhook-signature'].split(' ').length, 2);
    for (const secret of [oldSecret, newSecret]) {
      assert.equal(isValid({ headers, body, secret, now: 1_700_000_000 }), true);
    }
    assert.equal(isValid({ headers, body, secret: generateSecret(), now: 1_700_000_000 }), false);
  });

  it('rejects a tampered body, id or timestamp', () => {
    const secret = generateSecret();
    const now = 1_700_000_000;
    const headers = sign({ id: 'evt_3', timestamp: now, body: '{"a":1}', secret });
    assert.throws(
      () => verify({ headers, body: '{"a":2}', secret, now }),
      rejection('no-matching-signature'),
    );
    assert.throws(
      () => verify({ headers, body: '{"a":1} ', secret, now }),
      rejection('no-matching-signature'),
    );
    assert.throws(
      () =>
        verify({ headers: { ...headers, 'webhook-id': 'evt_4' }, body: '{"a":1}', secret, now }),
      rejection('no-matching-signature'),
    );
    assert.throws(
      () =>
        verify({
          headers: { ...headers, 'webhook-timestamp': String(now + 1) },
          body: '{"a":1}',
          secret,
          now,
        }),
      rejection('no-matching-signature'),
    );
  });

  it('rejects an old or future timestamp even with a valid signature', () => {
    const secret = generateSecret();
    const t = 1_700_000_000;
    const headers = sign({ id: 'evt_5', timestamp: t, body: 'x', secret });
    assert.equal(isValid({ headers, body: 'x', secret, now: t + 300 }), true);
    assert.throws(
      () => verify({ headers, body: 'x', secret, now: t + 301 }),
      rejection('timestamp-too-old'),
    );
    assert.throws(
      () => verify({ headers, body: 'x', secret, now: t - 301 }),
      rejection('timestamp-too-new'),
    );
    assert.throws(
      () => verify({ headers, body: 'x', secret, now: t + 61, toleranceSeconds: 60 }),
      rejection('timestamp-too-old'),
    );
  });

  it('rejects missing headers, malformed timestamps and signatures', () => {
    const secret = VECTOR.secret;
    const good = {
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    };
    const now = VECTOR.timestamp;
    const body = VECTOR.body;
    const unsigned = {
      'webhook-id': good['webhook-id'],
      'webhook-timestamp': good['webhook-timestamp'],
    };
    assert.throws(
      () => verify({ headers: unsigned, body, secret, now }),
      rejection('missing-header'),
    );
    for (const ts of ['hello', '1614265330.5', '-1', '']) {
      assert.throws(
        () => verify({ headers: { ...good, 'webhook-timestamp': ts }, body, secret, now }),
        (err: unknown) => err instanceof WebhookVerificationError,
      );
    }
    for (const sig of [
      'v1,',
      'v1,dawfeoifkpqwoekfpqoekf',
      VECTOR.signature.slice(0, 8),
      VECTOR.signature.replace('v1,', 'v2,'),
    ]) {
      assert.throws(
        () => verify({ headers: { ...good, 'webhook-signature': sig }, body, secret, now }),
        rejection('no-matching-signature'),
      );
    }
  });

  it('refuses ids that would shift the signed fields, and weak secrets', () => {
    const secret = generateSecret();
    for (const id of ['', 'a.b', 'a b', 'a\r\nx: y']) {
      assert.throws(() => sign({ id, timestamp: 1, body: '', secret }), TypeError);
    }
    assert.throws(() => sign({ id: 'ok', timestamp: 1.5, body: '', secret }), TypeError);
    assert.throws(() => sign({ id: 'ok', timestamp: 1, body: '', secret: 'whsec_' }), TypeError);
    assert.throws(() => generateSecret(16), RangeError);
  });
});
