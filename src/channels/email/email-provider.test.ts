import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { simpleParser } from 'mailparser';
import type { OutboundMessage, SendOutcome } from '../channel-provider.js';
import { EmailProvider, type EmailProviderOptions } from './email-provider.js';
import { startSink, type SmtpSink } from '../../../test/support/smtp-sink.js';

function outbound(over: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    deliveryId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    messageId: '0190a1b2-0000-7000-8000-000000000001',
    channel: 'email',
    userId: 'u1',
    recipient: { externalId: '2024010102', name: 'Li Hua' },
    address: 'li.hua@stu.example.edu',
    category: 'exam',
    source: { key: 'jwc', name: 'Academic Affairs Office' },
    locale: 'en',
    content: {
      subject: 'Exam room changed',
      title: 'Your exam moved',
      body: 'Linear Algebra is now in room A-101.\nBring your ID card.',
    },
    ...over,
  };
}

/** The top-level header block of a raw message, unfolded, one header per line. */
function headerBlock(raw: string): string[] {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  return head.replace(/\r\n[ \t]+/g, ' ').split('\r\n');
}

function headerValues(raw: string, name: string): string[] {
  const prefix = `${name.toLowerCase()}:`;
  return headerBlock(raw)
    .filter((line) => line.toLowerCase().startsWith(prefix))
    .map((line) => line.slice(prefix.length).trim());
}

function failure(outcome: SendOutcome | undefined) {
  assert.ok(outcome && !outcome.ok, `expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome.error;
}

describe('EmailProvider against a real SMTP server', () => {
  let sink: SmtpSink;
  let provider: EmailProvider;

  const makeProvider = (over: Partial<EmailProviderOptions> = {}) =>
    new EmailProvider({
      url: `smtp://127.0.0.1:${sink.port}`,
      from: 'Herald <noreply@herald.example.edu>',
      publicUrl: 'https://msg.example.edu',
      pool: { maxConnections: 2, maxMessages: 100 },
      ...over,
    });

  beforeEach(async () => {
    sink = await startSink();
    provider = makeProvider();
  });

  afterEach(async () => {
    provider.close();
    await sink.close();
  });

  it('sends one mail with the exact headers, a text and an HTML part, to the recipient', async () => {
    const [outcome] = await provider.send([outbound()]);
    assert.deepEqual(outcome, {
      ok: true,
      status: 'sent',
      providerMessageId: '<0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@herald>',
    });
    assert.equal(sink.messages.length, 1);
    const { raw, rcptTo, mailFrom } = sink.messages[0]!;
    assert.deepEqual(rcptTo, ['li.hua@stu.example.edu']);
    assert.equal(mailFrom, 'noreply@herald.example.edu');
    assert.deepEqual(
      headerBlock(raw).map((line) => line.slice(0, line.indexOf(':'))),
      [
        'From',
        'To',
        'Subject',
        'Date',
        'Message-ID',
        'MIME-Version',
        'List-Unsubscribe',
        'X-Herald-Delivery-Id',
        'Content-Type',
      ],
      'these headers, each once, nothing else',
    );
    assert.deepEqual(headerValues(raw, 'From'), ['Herald <noreply@herald.example.edu>']);
    assert.deepEqual(headerValues(raw, 'To'), ['Li Hua <li.hua@stu.example.edu>']);
    assert.deepEqual(headerValues(raw, 'Subject'), ['Exam room changed']);
    assert.match(
      headerValues(raw, 'Date')[0]!,
      /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/,
    );
    assert.deepEqual(headerValues(raw, 'MIME-Version'), ['1.0']);
    assert.deepEqual(headerValues(raw, 'Message-ID'), [
      '<0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@herald>',
    ]);
    assert.deepEqual(headerValues(raw, 'X-Herald-Delivery-Id'), [
      '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    ]);
    assert.deepEqual(headerValues(raw, 'List-Unsubscribe'), [
      '<https://msg.example.edu/v1/me/preferences>',
    ]);
    assert.deepEqual(headerValues(raw, 'List-Unsubscribe-Post'), []);
    assert.match(headerValues(raw, 'Content-Type')[0]!, /^multipart\/alternative;/);
    assert.match(raw, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
    assert.match(raw, /\r\nContent-Type: text\/html; charset=utf-8\r\n/);

    const mail = await simpleParser(raw);
    assert.equal(mail.text?.trim(), 'Linear Algebra is now in room A-101.\nBring your ID card.');
    assert.ok(typeof mail.html === 'string');
    assert.match(mail.html, /<html lang="en">/);
    assert.match(mail.html, /<h1[^>]*>Your exam moved<\/h1>/);
    assert.match(mail.html, /Linear Algebra is now in room A-101\.<br>\nBring your ID card\./);
    assert.match(mail.html, /Academic Affairs Office/);
  });

  it('keeps the Message-ID of a delivery across retries, so a receiver can drop a duplicate', async () => {
    await provider.send([outbound()]);
    await provider.send([outbound()]);
    const ids = sink.messages.map((m) => headerValues(m.raw, 'Message-ID')[0]);
    assert.deepEqual(ids, [
      '<0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@herald>',
      '<0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@herald>',
    ]);
  });

  it('escapes the body in the HTML part: a <script> stays text', async () => {
    await provider.send([
      outbound({
        content: {
          title: 'Tom & "Jerry" <b>',
          body: `<script>alert('x')</script>\n<img src=x onerror=alert(1)>`,
        },
      }),
    ]);
    const mail = await simpleParser(sink.messages[0]!.raw);
    assert.ok(typeof mail.html === 'string');
    assert.doesNotMatch(mail.html, /<script|<img|<b>/i);
    assert.match(mail.html, /&lt;script&gt;alert\(&#39;x&#39;\)&lt;\/script&gt;<br>/);
    assert.match(mail.html, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(mail.html, /Tom &amp; &quot;Jerry&quot; &lt;b&gt;/);
    // No subject: the title stands in; the text part carries the body untouched.
    assert.equal(mail.subject, 'Tom & "Jerry" <b>');
    assert.equal(mail.text?.trim(), `<script>alert('x')</script>\n<img src=x onerror=alert(1)>`);
  });

  for (const [at, code, kind] of [
    ['rcpt', 421, 'transient'],
    ['rcpt', 450, 'transient'],
    ['data', 451, 'transient'],
    ['rcpt', 550, 'permanent'],
    ['data', 554, 'permanent'],
  ] as const) {
    it(`maps ${code} at ${at.toUpperCase()} to a ${kind} error`, async () => {
      sink.reply = { kind: 'reject', at, code };
      const error = failure((await provider.send([outbound()]))[0]);
      assert.equal(error.kind, kind);
      assert.match(error.message, new RegExp(`^smtp ${code}: .*test says ${code}`));
      assert.equal(sink.messages.length, 0);
    });
  }

  it('returns one outcome per message, in order, for a mixed batch', async () => {
    const batch = Array.from({ length: 6 }, (_, i) =>
      outbound({
        deliveryId: `d${i}`,
        address: i === 3 ? 'bounce@stu.example.edu' : `u${i}@x.test`,
      }),
    );
    sink.reply = { kind: 'reject', at: 'rcpt', code: 550, only: 'bounce@stu.example.edu' };
    const outcomes = await provider.send(batch);
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? o.providerMessageId : o.error.kind)),
      ['<d0@herald>', '<d1@herald>', '<d2@herald>', 'permanent', '<d4@herald>', '<d5@herald>'],
    );
    assert.equal(sink.messages.length, 5);
  });

  it('turns CR/LF in the subject into a space: one Subject header, no Bcc, one RCPT', async () => {
    const [outcome] = await provider.send([
      outbound({
        content: {
          subject: 'Hi\r\nBcc: evil@x.test',
          title: 'T\r\nX-Evil: 1',
          body: 'line one\r\nBcc: evil2@x.test\r\n\r\nRCPT TO:<evil3@x.test>\r\n.\r\nafter dot',
        },
        source: { key: 'jwc', name: 'Office\r\nBcc: evil4@x.test' },
      }),
    ]);
    assert.ok(outcome?.ok);
    assert.deepEqual(sink.rcpts, ['li.hua@stu.example.edu']);
    const { raw, rcptTo } = sink.messages[0]!;
    assert.deepEqual(rcptTo, ['li.hua@stu.example.edu']);
    assert.deepEqual(headerValues(raw, 'Subject'), ['Hi Bcc: evil@x.test']);
    assert.deepEqual(headerValues(raw, 'Bcc'), []);
    assert.deepEqual(headerValues(raw, 'X-Evil'), []);
    const mail = await simpleParser(raw);
    assert.equal(mail.bcc, undefined);
    assert.equal(mail.subject, 'Hi Bcc: evil@x.test');
    // The body arrives whole, the lone dot included (dot-stuffing), as text, not as headers.
    assert.equal(
      mail.text?.replace(/\r\n/g, '\n').trim(),
      'line one\nBcc: evil2@x.test\n\nRCPT TO:<evil3@x.test>\n.\nafter dot',
    );
  });

  it('refuses an address with CR/LF, a display name or a second address, sending nothing', async () => {
    const bad = [
      'li.hua@stu.example.edu\r\nBcc: evil@x.test',
      'li.hua@stu.example.edu>\r\nRCPT TO:<evil@x.test',
      'Li Hua <li.hua@stu.example.edu>',
      '"Eve\r\nBcc: evil@x.test" <eve@x.test>',
      'a@x.test, evil@x.test',
      'a@x.test;evil@x.test',
      'no-at-sign',
      'a@localhost',
      '',
    ];
    const outcomes = await provider.send(bad.map((address) => outbound({ address })));
    for (const outcome of outcomes) {
      const error = failure(outcome);
      assert.equal(error.kind, 'permanent');
      assert.match(error.message, /^not a valid email address: /);
      assert.doesNotMatch(error.message, /\r|\n/);
    }
    assert.deepEqual(sink.rcpts, []);
    assert.equal(sink.messages.length, 0);
  });

  it('strips CR/LF from the display name of the configured sender', async () => {
    provider.close();
    provider = makeProvider({ from: '"Herald\r\nBcc: evil@x.test" <noreply@herald.example.edu>' });
    await provider.send([outbound()]);
    const { raw } = sink.messages[0]!;
    assert.deepEqual(headerValues(raw, 'From'), [
      '"Herald Bcc: evil@x.test" <noreply@herald.example.edu>',
    ]);
    assert.deepEqual(headerValues(raw, 'Bcc'), []);
    assert.deepEqual(sink.rcpts, ['li.hua@stu.example.edu']);
  });

  it('writes the sender chosen by the source or category: From, Sender, Reply-To; bounces still go to the relay sender', async () => {
    const [outcome] = await provider.send([
      outbound({
        sender: { from: '教务处 <jwc@example.edu>', replyTo: 'Help Desk <help@example.edu>' },
      }),
    ]);
    assert.ok(outcome?.ok);
    const { raw, mailFrom, rcptTo } = sink.messages[0]!;
    assert.equal(mailFrom, 'noreply@herald.example.edu');
    assert.deepEqual(rcptTo, ['li.hua@stu.example.edu']);
    assert.deepEqual(headerValues(raw, 'From'), ['=?UTF-8?B?5pWZ5Yqh5aSE?= <jwc@example.edu>']);
    assert.deepEqual(headerValues(raw, 'Sender'), ['Herald <noreply@herald.example.edu>']);
    assert.deepEqual(headerValues(raw, 'Reply-To'), ['Help Desk <help@example.edu>']);
    const mail = await simpleParser(raw);
    assert.deepEqual(mail.from?.value, [{ name: '教务处', address: 'jwc@example.edu' }]);
    assert.ok(mail.replyTo && !Array.isArray(mail.replyTo));
    assert.deepEqual(mail.replyTo.value, [{ name: 'Help Desk', address: 'help@example.edu' }]);
  });

  it('keeps its own From with only a Reply-To, and needs no Sender for its own address', async () => {
    await provider.send([
      outbound({ deliveryId: 'd1', sender: { replyTo: 'help@example.edu' } }),
      outbound({ deliveryId: 'd2', sender: { from: 'Office <noreply@herald.example.edu>' } }),
    ]);
    const byId = (id: string) => sink.messages.find((m) => m.raw.includes(`<${id}@herald>`))!.raw;
    const [first, second] = [byId('d1'), byId('d2')];
    assert.deepEqual(headerValues(first!, 'From'), ['Herald <noreply@herald.example.edu>']);
    assert.deepEqual(headerValues(first!, 'Reply-To'), ['help@example.edu']);
    assert.deepEqual(headerValues(first!, 'Sender'), []);
    assert.deepEqual(headerValues(second!, 'From'), ['Office <noreply@herald.example.edu>']);
    assert.deepEqual(headerValues(second!, 'Sender'), []);
    assert.deepEqual(headerValues(second!, 'Reply-To'), []);
  });

  it('fails a mail for good when its configured sender is not one address, sending nothing', async () => {
    const outcomes = await provider.send([
      outbound({ sender: { from: 'not an address' } }),
      outbound({ sender: { from: 'a@x.test, evil@x.test' } }),
      outbound({ sender: { replyTo: 'help@example.edu>\r\nBcc: evil@x.test' } }),
      outbound({ sender: { replyTo: '' } }),
    ]);
    for (const [i, field] of (['From', 'From', 'Reply-To'] as const).entries()) {
      const error = failure(outcomes[i]);
      assert.equal(error.kind, 'permanent');
      assert.match(
        error.message,
        new RegExp(`^the ${field} configured for this source or category is not usable: `),
      );
      assert.doesNotMatch(error.message, /\r|\n/);
    }
    // An empty Reply-To is no Reply-To.
    assert.ok(outcomes[3]?.ok);
    assert.deepEqual(sink.rcpts, ['li.hua@stu.example.edu']);
    assert.deepEqual(headerValues(sink.messages[0]!.raw, 'Reply-To'), []);
  });

  it('keeps CR/LF in a configured sender name or the recipient name inside one header', async () => {
    await provider.send([
      outbound({
        recipient: { externalId: '2024010102', name: 'Li\r\nBcc: evil@x.test' },
        sender: {
          from: '"Office\r\nBcc: evil2@x.test" <office@example.edu>',
          replyTo: '"Help\nCc: evil3@x.test" <help@example.edu>',
        },
      }),
    ]);
    assert.deepEqual(sink.rcpts, ['li.hua@stu.example.edu']);
    const { raw } = sink.messages[0]!;
    assert.deepEqual(headerValues(raw, 'To'), ['"Li Bcc: evil@x.test" <li.hua@stu.example.edu>']);
    assert.deepEqual(headerValues(raw, 'From'), [
      '"Office Bcc: evil2@x.test" <office@example.edu>',
    ]);
    assert.deepEqual(headerValues(raw, 'Reply-To'), ['"Help Cc: evil3@x.test" <help@example.edu>']);
    assert.deepEqual(headerValues(raw, 'Bcc'), []);
    assert.deepEqual(headerValues(raw, 'Cc'), []);
    const mail = await simpleParser(raw);
    assert.equal(mail.bcc, undefined);
    assert.equal(mail.cc, undefined);
  });

  it('writes a Chinese recipient name and subject as encoded-words that read back whole', async () => {
    await provider.send([
      outbound({
        recipient: { externalId: '2024010101', name: '李华' },
        content: {
          subject: '【调课通知】《作物栽培学》上课时间调整',
          body: '李华，您好：\n周五 第5–6节',
        },
      }),
    ]);
    const { raw } = sink.messages[0]!;
    assert.deepEqual(headerValues(raw, 'To'), ['=?UTF-8?B?5p2O5Y2O?= <li.hua@stu.example.edu>']);
    const mail = await simpleParser(raw);
    assert.ok(mail.to && !Array.isArray(mail.to));
    assert.deepEqual(mail.to.value, [{ name: '李华', address: 'li.hua@stu.example.edu' }]);
    assert.equal(mail.subject, '【调课通知】《作物栽培学》上课时间调整');
    assert.equal(mail.text, '李华，您好：\n周五 第5–6节');
    assert.match(String(mail.html), /李华，您好：<br>\n周五 第5–6节/);
  });

  it('rejects a sender that is not one address when built', () => {
    for (const from of ['', 'nobody', 'a@x.test, b@x.test']) {
      assert.throws(() => makeProvider({ from }), /is not one email address/);
    }
  });

  it('leaves List-Unsubscribe out without a public URL, and keeps a base path', async () => {
    provider.close();
    provider = makeProvider({ publicUrl: '' });
    await provider.send([outbound()]);
    assert.deepEqual(headerValues(sink.messages[0]!.raw, 'List-Unsubscribe'), []);
    provider.close();
    provider = makeProvider({ publicUrl: 'https://portal.example.edu/herald' });
    await provider.send([outbound()]);
    assert.deepEqual(headerValues(sink.messages[1]!.raw, 'List-Unsubscribe'), [
      '<https://portal.example.edu/herald/v1/me/preferences>',
    ]);
  });

  it('reports a refused connection as transient for every message of the batch', async () => {
    const port = await freePort();
    provider.close();
    provider = makeProvider({ url: `smtp://127.0.0.1:${port}` });
    const outcomes = await provider.send([outbound(), outbound({ deliveryId: 'd2' })]);
    for (const outcome of outcomes) {
      const error = failure(outcome);
      assert.equal(error.kind, 'transient');
      assert.match(error.message, /ECONNREFUSED|ECONNECTION|ESOCKET/);
    }
  });

  it('answers transient once closed, without connecting', async () => {
    provider.close();
    const error = failure((await provider.send([outbound()]))[0]);
    assert.equal(error.kind, 'transient');
    assert.deepEqual(sink.rcpts, []);
  });
});

/** A loopback port with nothing listening on it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
