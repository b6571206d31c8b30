import { it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { pino } from 'pino';
import { createServer } from './server.js';

it('answers a request that arrives during a graceful stop with a problem+json 503 and Retry-After', async () => {
  const app = await createServer({
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1 << 20,
    version: 'test',
    trustProxy: false,
  });
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const slowStarted = new Promise<void>((resolve) => (started = resolve));
  app.get('/slow', async () => {
    started();
    await held;
    return { ok: true };
  });
  app.get('/fast', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };

  // One kept-alive connection: a request in hand when the stop begins, then another behind it.
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (b: Buffer) => (received += b.toString()));
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await slowStarted;
  const closed = app.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  release();
  await closed;
  await ended;

  const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
  assert.match(first!, /^HTTP\/1\.1 200/, 'the request in hand is finished');
  assert.match(second!, /^HTTP\/1\.1 503/);
  assert.match(second!, /content-type: application\/problem\+json/i);
  assert.match(second!, /retry-after: 1/i);
  assert.match(second!, /connection: close/i);
  assert.match(second!, /"code":"unavailable"/);
});
