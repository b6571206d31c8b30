import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import {
  composeMessage,
  encodedWords,
  mailbox,
  quotedPrintable,
  rfc5322Date,
  type MimeInput,
} from './mime-message.js';

function input(over: Partial<MimeInput> = {}): MimeInput {
  return {
    from: { name: 'Herald', address: 'noreply@example.edu' },
    to: { name: 'Li Hua', address: 'li.hua@stu.example.edu' },
    subject: 'Exam room changed',
    messageId: '<d1@herald>',
    date: new Date('2026-11-26T09:05:00Z'),
    headers: [['X-Herald-Delivery-Id', 'd1']],
    boundaryKey: 'd1',
    text: 'Linear Algebra is now in room A-101.\nBring your ID card.',
    html: '<p>Linear Algebra is now in room A-101.</p>',
    ...over,
  };
}

const raw = (m: Buffer) => m.toString('utf8');
const head = (m: Buffer) => raw(m).slice(0, raw(m).indexOf('\r\n\r\n'));

/** Every line ends in CRLF (no bare CR or LF) and is at most `max` octets long. */
function assertLines(message: Buffer, max = 998): void {
  const text = message.toString('latin1');
  assert.doesNotMatch(text, /\r(?!\n)|(?<!\r)\n/, 'bare CR or LF');
  for (const line of text.split('\r\n')) {
    assert.ok(line.length <= max, `line of ${line.length} octets: ${line.slice(0, 60)}…`);
  }
}

describe('composing a MIME message', () => {
  it('writes exactly these headers, then two parts in multipart/alternative', async () => {
    const message = composeMessage(input());
    assert.equal(
      head(message),
      [
        'From: Herald <noreply@example.edu>',
        'To: Li Hua <li.hua@stu.example.edu>',
        'Subject: Exam room changed',
        'Date: Thu, 26 Nov 2026 09:05:00 +0000',
        'Message-ID: <d1@herald>',
        'MIME-Version: 1.0',
        'X-Herald-Delivery-Id: d1',
        'Content-Type: multipart/alternative; boundary="=_herald_d1"',
      ].join('\r\n'),
    );
    assert.equal(
      raw(message).slice(head(message).length),
      '\r\n\r\n' +
        '--=_herald_d1\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Transfer-Encoding: 7bit\r\n\r\n' +
        'Linear Algebra is now in room A-101.\r\nBring your ID card.\r\n' +
        '--=_herald_d1\r\n' +
        'Content-Type: text/html; charset=utf-8\r\n' +
        'Content-Transfer-Encoding: 7bit\r\n\r\n' +
        '<p>Linear Algebra is now in room A-101.</p>\r\n' +
        '--=_herald_d1--\r\n',
    );
    const mail = await simpleParser(message);
    assert.equal(mail.text, 'Linear Algebra is now in room A-101.\nBring your ID card.');
    assert.equal(mail.html, '<p>Linear Algebra is now in room A-101.</p>');
  });

  it('adds Sender and Reply-To when given', () => {
    const message = composeMessage(
      input({
        from: { name: 'Office', address: 'office@example.edu' },
        sender: { name: 'Herald', address: 'noreply@example.edu' },
        replyTo: { name: '', address: 'help@example.edu' },
      }),
    );
    assert.match(
      head(message),
      /^From: Office <office@example\.edu>\r\nSender: Herald <noreply@example\.edu>\r\nTo: Li Hua <li\.hua@stu\.example\.edu>\r\nReply-To: help@example\.edu\r\nSubject: /,
    );
  });

  it('round-trips Chinese subject, names and bodies (base64), with short header lines', async () => {
    const subject =
      '【调课通知】《作物栽培学》上课时间调整，请各位同学相互转告并准时到达新的上课地点';
    const text =
      '李华，您好：\n\n因教学安排调整，《作物栽培学》的上课时间变更如下。\n\nXX农业大学教务处';
    const html = `<p>${text}</p>`;
    const message = composeMessage(
      input({
        from: { name: 'XX农业大学教务处', address: 'jwc@example.edu.cn' },
        to: { name: '李华', address: 'li.hua@stu.example.edu.cn' },
        subject,
        text,
        html,
      }),
    );
    assertLines(message, 78);
    for (const line of head(message).split('\r\n')) assert.match(line, /^[\x20-\x7e]*$/);
    assert.match(head(message), /^To: =\?UTF-8\?B\?5p2O5Y2O\?= <li\.hua@stu\.example\.edu\.cn>$/m);
    assert.match(raw(message), /Content-Transfer-Encoding: base64\r\n/);
    const mail = await simpleParser(message);
    assert.equal(mail.subject, subject);
    assert.deepEqual(mail.from?.value, [
      { name: 'XX农业大学教务处', address: 'jwc@example.edu.cn' },
    ]);
    assert.equal(mail.text, text);
    assert.equal(mail.html, html);
  });

  it('never splits a character between two encoded-words', () => {
    const text = '考'.repeat(40) + '🎓'.repeat(20) + 'é'.repeat(30);
    const folded = encodedWords(text, 9);
    const words = folded.split('\r\n ');
    assert.ok(words.length > 3);
    let decoded = '';
    for (const word of words) {
      assert.ok(word.length <= 75, word);
      const m = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=$/.exec(word);
      assert.ok(m, word);
      const piece = Buffer.from(m[1]!, 'base64');
      // Each word decodes to whole characters on its own.
      assert.equal(Buffer.from(piece.toString('utf8'), 'utf8').compare(piece), 0);
      decoded += piece.toString('utf8');
    }
    assert.equal(decoded, text);
  });

  it('folds a long ASCII subject at spaces and keeps it whole', async () => {
    const subject = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const message = composeMessage(input({ subject }));
    assertLines(message, 78);
    assert.match(head(message), /^Subject: word0 .*\r\n word/m);
    assert.equal((await simpleParser(message)).subject, subject);
  });

  it('encodes an ASCII subject that looks like an encoded-word, so it reads as typed', async () => {
    const subject = 'about =?UTF-8?B?5p2O?= and more';
    const message = composeMessage(input({ subject }));
    assert.match(head(message), /^Subject: =\?UTF-8\?B\?/m);
    assert.equal((await simpleParser(message)).subject, subject);
  });

  it('wraps long lines: quoted-printable for mostly ASCII, every line ≤ 76', async () => {
    const text = `${'The quick brown fox jumps over the lazy dog. '.repeat(60)}Café = 5 €.\nEnd  `;
    const message = composeMessage(input({ text, html: `<p>${'x'.repeat(5000)}</p>` }));
    assertLines(message, 78);
    const body = raw(message);
    assert.match(
      body,
      /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n/,
    );
    // A line over 998 octets is not 7bit, even when it is ASCII.
    assert.match(
      body,
      /Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n/,
    );
    const mail = await simpleParser(message);
    assert.equal(mail.text, text);
    assert.equal(mail.html, `<p>${'x'.repeat(5000)}</p>`);
  });

  it('keeps only CRLF line ends and no long line whatever the body holds', async () => {
    const text = `a\rb\nc\r\nd\u0000e ${'長'.repeat(2000)}\n.\n..\nend`;
    const message = composeMessage(input({ text, html: text }));
    assertLines(message, 998);
    const mail = await simpleParser(message);
    assert.equal(mail.text, text.replace(/\r\n|\r|\n/g, '\n'));
  });

  it('cannot be cut by a body that holds the boundary', async () => {
    const text =
      'before\n--=_herald_d1\nContent-Type: text/html\n\n<b>forged</b>\n--=_herald_d1--\nafter';
    const message = composeMessage(input({ text }));
    const mail = await simpleParser(message);
    assert.equal(mail.text, text);
    assert.equal(mail.html, '<p>Linear Algebra is now in room A-101.</p>');
    assert.equal(mail.attachments.length, 0);
  });

  it('keeps CR/LF out of headers even if a caller passes them', async () => {
    const message = composeMessage(
      input({
        subject: 'Hi\r\nBcc: evil@x.test',
        to: { name: 'Eve\r\nBcc: evil@x.test', address: 'eve@x.test' },
        headers: [['X-Herald-Delivery-Id', 'd1\r\nBcc: evil@x.test']],
      }),
    );
    assert.doesNotMatch(head(message), /^Bcc:/im);
    const mail = await simpleParser(message);
    assert.equal(mail.bcc, undefined);
    assert.equal(mail.subject, 'Hi Bcc: evil@x.test');
  });
});

describe('MIME pieces', () => {
  it('writes display names as atoms, quoted strings or encoded-words', () => {
    assert.equal(mailbox({ name: '', address: 'a@x.test' }), 'a@x.test');
    assert.equal(mailbox({ name: 'Li Hua', address: 'a@x.test' }), 'Li Hua <a@x.test>');
    assert.equal(
      mailbox({ name: 'Hua, Li "LH" \\ Jr.', address: 'a@x.test' }),
      '"Hua, Li \\"LH\\" \\\\ Jr." <a@x.test>',
    );
    assert.equal(mailbox({ name: '李华', address: 'a@x.test' }), '=?UTF-8?B?5p2O5Y2O?= <a@x.test>');
  });

  it('writes an internationalised domain in its ASCII form', () => {
    assert.equal(
      mailbox({ name: '', address: '李华@北京大学.中国' }),
      '李华@xn--1lq90ic7fzpc.xn--fiqs8s',
    );
  });

  it('encodes quoted-printable by the rules of RFC 2045', () => {
    const qp = (s: string) => quotedPrintable(Buffer.from(s, 'utf8'));
    assert.equal(qp('a=b'), 'a=3Db');
    assert.equal(qp('end \r\nnext\t\r\nlast '), 'end=20\r\nnext=09\r\nlast=20');
    assert.equal(qp('é'), '=C3=A9');
    const long = qp('é'.repeat(100));
    for (const line of long.split('\r\n')) {
      assert.ok(line.length <= 76);
      assert.match(line, /^(=[0-9A-F]{2})+=?$/);
    }
  });

  it('writes RFC 5322 dates in UTC', () => {
    assert.equal(rfc5322Date(new Date('2027-01-05T23:59:09Z')), 'Tue, 05 Jan 2027 23:59:09 +0000');
  });
});
