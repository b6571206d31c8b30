import { after, before, describe, it } from 'node:test';
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
    });
  });
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
});
