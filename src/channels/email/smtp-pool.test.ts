import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmtpPool, type SmtpPoolOptions, type SmtpSendError } from './smtp-pool.js';
import { startSink, type SinkOptions, type SmtpSink } from '../../../test/support/smtp-sink.js';

const message = (n: number) =>
  Buffer.from(`From: a@x.test\r\nTo: b@x.test\r\nSubject: ${n}\r\n\r\nbody ${n}\r\n`);

describe('SmtpPool against a real SMTP server', () => {
  let sink: SmtpSink;
  let pool: SmtpPool;

  async function setUp(over: Partial<SmtpPoolOptions> = {}, sinkOptions: SinkOptions = {}) {
    sink = await startSink(sinkOptions);
    pool = new SmtpPool({
      url: `smtp://127.0.0.1:${sink.port}`,
      maxConnections: 2,
      maxMessages: 100,
      connectMs: 2_000,
      greetingMs: 2_000,
      socketMs: 5_000,
      ...over,
    });
  }

  afterEach(async () => {
    pool.close();
    await sink.close();
  });

  const send = (n: number) => pool.send({ from: 'a@x.test', to: `r${n}@x.test` }, message(n));

  it('sends many messages over at most maxConnections sessions', async () => {
    await setUp();
    await Promise.all(Array.from({ length: 10 }, (_, n) => send(n)));
    assert.equal(sink.messages.length, 10);
    assert.deepEqual(
      sink.messages.map((m) => m.rcptTo[0]).sort(),
      Array.from({ length: 10 }, (_, n) => `r${n}@x.test`).sort(),
    );
    assert.ok(sink.connections.opened <= 2, `${sink.connections.opened} sessions`);
    assert.match(sink.messages[0]!.raw, /^From: a@x\.test\r\n/);
  });

  it('renews a session after maxMessages', async () => {
    await setUp({ maxConnections: 1, maxMessages: 3 });
    for (let n = 0; n < 7; n++) await send(n);
    assert.equal(sink.messages.length, 7);
    assert.equal(sink.connections.opened, 3);
  });

  it('keeps the session after the relay refuses one message', async () => {
    await setUp({ maxConnections: 1 });
    sink.reply = { kind: 'reject', at: 'rcpt', code: 550, only: 'r1@x.test' };
    await send(0);
    await assert.rejects(send(1), (err: SmtpSendError) => {
      assert.equal(err.responseCode, 550);
      assert.equal(err.code, 'EENVELOPE');
      return true;
    });
    await send(2);
    assert.deepEqual(
      sink.messages.map((m) => m.rcptTo[0]),
      ['r0@x.test', 'r2@x.test'],
    );
    assert.equal(sink.connections.opened, 1);
  });

  it('hands back a 421 and opens a new session for the next message', async () => {
    await setUp({ maxConnections: 1 });
    sink.reply = { kind: 'reject', at: 'rcpt', code: 421, times: 1 };
    await assert.rejects(send(0), (err: SmtpSendError) => err.responseCode === 421);
    await send(1);
    assert.deepEqual(
      sink.messages.map((m) => m.rcptTo[0]),
      ['r1@x.test'],
    );
    assert.equal(sink.connections.opened, 2);
  });

  it('replaces a session the relay just closed, without failing the message', async () => {
    await setUp({ maxConnections: 1 });
    await send(0);
    sink.dropConnections();
    await send(1);
    assert.equal(sink.messages.length, 2);
    assert.equal(sink.connections.opened, 2);
  });

  it('opens a new session when it has seen the relay close the idle one', async () => {
    await setUp({ maxConnections: 1 });
    await send(0);
    sink.dropConnections();
    await sleep(50);
    await send(1);
    assert.equal(sink.messages.length, 2);
    assert.equal(sink.connections.opened, 2);
  });

  it('closes a session left idle', async () => {
    await setUp({ maxConnections: 1, idleMs: 50 });
    await send(0);
    assert.equal(sink.connections.open, 1);
    await sleep(300);
    assert.equal(sink.connections.open, 0);
    await send(1);
    assert.equal(sink.messages.length, 2);
  });

  it('logs in with the credentials of the URL', async () => {
    await setUp({}, { auth: { user: 'herald', pass: 'p@ss:word' } });
    pool.close();
    pool = new SmtpPool({
      url: `smtp://herald:${encodeURIComponent('p@ss:word')}@127.0.0.1:${sink.port}`,
      maxConnections: 1,
      maxMessages: 100,
      connectMs: 2_000,
      greetingMs: 2_000,
      socketMs: 5_000,
    });
    await send(0);
    assert.equal(sink.messages[0]!.user, 'herald');
  });

  it('fails every message with EAUTH while the password is wrong', async () => {
    await setUp({}, { auth: { user: 'herald', pass: 'right' } });
    pool.close();
    pool = new SmtpPool({
      url: `smtp://herald:wrong@127.0.0.1:${sink.port}`,
      maxConnections: 1,
      maxMessages: 100,
      connectMs: 2_000,
      greetingMs: 2_000,
      socketMs: 5_000,
    });
    for (const n of [0, 1]) {
      await assert.rejects(send(n), (err: SmtpSendError) => err.code === 'EAUTH');
    }
    assert.equal(sink.messages.length, 0);
  });

  it('upgrades with STARTTLS when the relay offers it (TLS options from the URL)', async () => {
    await setUp({}, { starttls: true });
    pool.close();
    pool = new SmtpPool({
      url: `smtp://127.0.0.1:${sink.port}?tls.rejectUnauthorized=false`,
      maxConnections: 1,
      maxMessages: 100,
      connectMs: 2_000,
      greetingMs: 2_000,
      socketMs: 5_000,
    });
    await send(0);
    assert.equal(sink.messages[0]!.secure, true);
  });

  it('speaks TLS from the first byte with smtps://', async () => {
    await setUp({}, { implicitTls: true });
    pool.close();
    pool = new SmtpPool({
      url: `smtps://127.0.0.1:${sink.port}?tls.rejectUnauthorized=false`,
      maxConnections: 1,
      maxMessages: 100,
      connectMs: 2_000,
      greetingMs: 2_000,
      socketMs: 5_000,
    });
    await send(0);
    assert.equal(sink.messages[0]!.secure, true);
  });

  it('refuses to send once closed, and says goodbye to its idle sessions', async () => {
    await setUp();
    await send(0);
    assert.equal(sink.connections.open, 1);
    pool.close();
    await assert.rejects(send(1), /the SMTP pool is closed/);
    await sleep(200);
    assert.equal(sink.connections.open, 0);
    assert.equal(sink.messages.length, 1);
  });
});
