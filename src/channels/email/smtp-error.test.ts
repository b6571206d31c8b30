import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { smtpDeliveryError } from './smtp-error.js';

const failure = (fields: Record<string, unknown>) =>
  Object.assign(new Error(String(fields.message ?? 'failed')), fields);

describe('SMTP failure classification', () => {
  for (const [fields, kind] of [
    [{ code: 'EENVELOPE', responseCode: 421 }, 'transient'],
    [{ code: 'EENVELOPE', responseCode: 450 }, 'transient'],
    [{ code: 'EMESSAGE', responseCode: 452 }, 'transient'],
    [{ code: 'EENVELOPE', responseCode: 550 }, 'permanent'],
    [{ code: 'EMESSAGE', responseCode: 552 }, 'permanent'],
    [{ code: 'EENVELOPE', responseCode: 553 }, 'permanent'],
    // Session or relay settings, not the message:
    [{ code: 'EPROTOCOL', responseCode: 503 }, 'transient'],
    [{ code: 'EENVELOPE', responseCode: 530 }, 'transient'],
    [{ code: 'EAUTH', responseCode: 535 }, 'transient'],
    [{ code: 'ENOAUTH' }, 'transient'],
    // No reply at all:
    [{ code: 'ESOCKET', originalCode: 'ECONNREFUSED' }, 'transient'],
    [{ code: 'ECONNRESET' }, 'transient'],
    [{ code: 'ETIMEDOUT' }, 'transient'],
    [{ code: 'EDNS' }, 'transient'],
    [{ code: 'EENVELOPE' }, 'permanent'],
    [{ code: 'EMAXRECIPIENTS' }, 'permanent'],
    [{}, 'transient'],
  ] as const) {
    it(`${JSON.stringify(fields)} → ${kind}`, () => {
      const error = smtpDeliveryError(failure(fields));
      assert.equal(error.kind, kind);
      assert.ok(error.cause instanceof Error);
    });
  }

  it('keeps the server reply on one short line', () => {
    const error = smtpDeliveryError(
      failure({
        code: 'EENVELOPE',
        responseCode: 550,
        response: `550-5.1.1 The email account does not exist.\r\n550 5.1.1 ${'x'.repeat(400)}`,
      }),
    );
    assert.match(error.message, /^smtp 550: 550-5\.1\.1 The email account does not exist\. 550 /);
    assert.doesNotMatch(error.message, /[\r\n]/);
    assert.ok(error.message.length <= 320);
  });

  it('accepts whatever was thrown', () => {
    assert.equal(smtpDeliveryError('boom').message, 'smtp error: boom');
    assert.equal(smtpDeliveryError(null).kind, 'transient');
  });
});
