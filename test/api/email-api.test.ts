import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { startSink, type SmtpSink } from '../support/smtp-sink.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

describe('email through Herald to a real SMTP server', () => {
  let sink: SmtpSink;
  let t: TestHerald;

  before(async () => {
    sink = await startSink();
    t = await startTestHerald({
      HERALD_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      HERALD_SMTP_FROM: 'XX农业大学 <noreply@example.edu.cn>',
      HERALD_PUBLIC_URL: 'https://msg.example.edu.cn',
      // Retries within milliseconds, so the test sees them.
      HERALD_RETRY_BASE_MS: '20',
      HERALD_RETRY_CAP_MS: '100',
    });
  });
  beforeEach(() => {
    sink.reply = { kind: 'accept' };
    sink.messages.length = 0;
    sink.rcpts.length = 0;
  });

  /** One course change by email to 2024010101; its delivery once final, with its attempt log. */
  async function sendAndSettle() {
    const jwc = client(t.url, t.keys.jwc);
    const res = await jwc('POST', '/v1/messages', {
      category: 'course.change',
      to: { users: ['2024010101'] },
      data: DEMO_EXAMPLES['course.change'],
      channels: ['email'],
    });
    assert.equal(res.status, 202);
    return eventually(async () => {
      const list = await jwc('GET', `/v1/messages/${res.body.id}/deliveries`);
      const d = list.body.items[0];
      if (!d || d.finalAt === null) return undefined;
      return (await jwc('GET', `/v1/messages/${res.body.id}/deliveries/${d.id}`)).body;
    });
  }
  after(async () => {
    await t.close();
    await sink.close();
  });

  it('sends a course change as a real email with both parts and the delivery id as Message-ID', async () => {
    const jwc = client(t.url, t.keys.jwc);
    const res = await jwc('POST', '/v1/messages', {
      category: 'course.change',
      to: { users: ['2024010101'] },
      data: DEMO_EXAMPLES['course.change'],
      channels: ['email'],
    });
    assert.equal(res.status, 202);
    const delivery = await eventually(async () => {
      const list = await jwc('GET', `/v1/messages/${res.body.id}/deliveries`);
      const d = list.body.items[0];
      return d?.status === 'sent' ? d : undefined;
    });
    assert.equal(delivery.provider, 'smtp');
    const user = await client(t.url, ADMIN_TOKEN)('GET', '/v1/users/2024010101');
    assert.equal(sink.messages.length, 1);
    assert.deepEqual(sink.messages[0]!.rcptTo, [user.body.email]);
    const mail = await simpleParser(sink.messages[0]!.raw);
    assert.equal(mail.messageId, `<${delivery.id}@herald>`);
    assert.match(mail.subject ?? '', /作物栽培学/);
    assert.match(mail.text ?? '', /周五 第5–6节/);
    assert.match(String(mail.html), /周五 第5–6节/);
    // mailparser folds the List-* headers into one 'list' entry: read the raw header.
    assert.match(
      sink.messages[0]!.raw,
      /^List-Unsubscribe: <https:\/\/msg\.example\.edu\.cn\/v1\/me\/preferences>\r?$/m,
    );
  });

  for (const [at, code] of [
    ['rcpt', 421],
    ['rcpt', 450],
    ['data', 451],
  ] as const) {
    it(`retries a ${code} at ${at.toUpperCase()} and then sends, with every attempt recorded`, async () => {
      sink.reply = { kind: 'reject', at, code, times: 2 };
      const d = await sendAndSettle();
      assert.equal(d.status, 'sent');
      assert.equal(d.attempts, 3);
      assert.deepEqual(
        d.attemptLog.map((a: { outcome: string }) => a.outcome),
        ['transient', 'transient', 'sent'],
      );
      for (const a of d.attemptLog.slice(0, 2)) {
        assert.match(a.error, new RegExp(`^smtp ${code}: .*test says ${code}`));
      }
      assert.equal(sink.messages.length, 1);
      assert.equal(sink.messages[0]!.rcptTo.length, 1);
    });
  }

  it('fails a 550 at once: one attempt, no retry, the reply as the last error', async () => {
    sink.reply = { kind: 'reject', at: 'rcpt', code: 550 };
    const d = await sendAndSettle();
    assert.equal(d.status, 'failed');
    assert.equal(d.reason, 'provider-rejected');
    assert.equal(d.attempts, 1);
    assert.match(d.lastError, /^smtp 550: .*test says 550/);
    assert.equal(sink.rcpts.length, 1);
    assert.equal(sink.messages.length, 0);
  });

  it('keeps an injection attempt in the message data inside one Subject, with one recipient', async () => {
    const jwc = client(t.url, t.keys.jwc);
    const res = await jwc('POST', '/v1/messages', {
      category: 'course.change',
      to: { users: ['2024010101'] },
      data: {
        ...DEMO_EXAMPLES['course.change'],
        course: '作物栽培学\r\nBcc: evil@x.test\r\nX-Evil: 1',
      },
      channels: ['email'],
    });
    assert.equal(res.status, 202);
    await eventually(async () => {
      const list = await jwc('GET', `/v1/messages/${res.body.id}/deliveries`);
      return list.body.items[0]?.status === 'sent' ? true : undefined;
    });
    assert.equal(sink.rcpts.length, 1);
    const { raw, rcptTo } = sink.messages[0]!;
    assert.equal(rcptTo.length, 1);
    const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    assert.equal(head.match(/^Subject:/gim)?.length, 1);
    assert.doesNotMatch(head, /^(Bcc|X-Evil):/im);
    const mail = await simpleParser(raw);
    assert.equal(mail.bcc, undefined);
    assert.equal(mail.headers.get('x-evil'), undefined);
    assert.match(mail.subject ?? '', /《作物栽培学 Bcc: evil@x\.test X-Evil: 1》/);
  });

  it("sends from the source's configured sender, with its Reply-To", async () => {
    const admin = client(t.url, ADMIN_TOKEN);
    const patched = await admin('PATCH', '/v1/sources/jwc', {
      emailFrom: 'XX农业大学教务处 <jwc@example.edu.cn>',
      emailReplyTo: 'jwc-help@example.edu.cn',
    });
    assert.equal(patched.status, 200);
    try {
      const d = await sendAndSettle();
      assert.equal(d.status, 'sent');
      const { raw, mailFrom } = sink.messages[0]!;
      assert.equal(mailFrom, 'noreply@example.edu.cn');
      const mail = await simpleParser(raw);
      assert.deepEqual(mail.from?.value, [
        { name: 'XX农业大学教务处', address: 'jwc@example.edu.cn' },
      ]);
      assert.ok(mail.replyTo && !Array.isArray(mail.replyTo));
      assert.deepEqual(mail.replyTo.value, [{ name: '', address: 'jwc-help@example.edu.cn' }]);
      assert.match(raw, /^Sender: =\?UTF-8\?B\?[^\r\n]+\?= <noreply@example\.edu\.cn>\r$/m);
    } finally {
      await admin('PATCH', '/v1/sources/jwc', { emailFrom: null, emailReplyTo: null });
    }
  });
});
