import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Db } from '../store/database.js';
import { AmqpIngress } from './amqp-ingress.js';

/** A logger that keeps its lines, to see what an operator would see. */
function recordingLogger() {
  const lines: { msg: string; retryInMs?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as { msg: string });
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

/** A port where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('AmqpIngress without a broker', () => {
  it('keeps trying with growing waits, logs why, and stops at once when told', async () => {
    const { log, lines } = recordingLogger();
    const ingress = new AmqpIngress({
      url: `amqp://guest:guest@127.0.0.1:${await closedPort()}`,
      db: {} as Db, // never reached: nothing arrives without a broker
      ingest: { submit: () => Promise.reject(new Error('not reached')) },
      log,
      reconnect: { initialMs: 20, maxMs: 80 },
    });
    const started = ingress.start();
    started.catch(() => undefined);
    const until = Date.now() + 5000;
    while (lines.length < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const retries = lines.filter((l) => l.msg.startsWith('AMQP ingress: cannot consume'));
    assert.ok(retries.length >= 4, `${retries.length} attempts logged`);
    assert.deepEqual(
      retries.slice(0, 4).map((l) => l.retryInMs),
      [20, 40, 80, 80],
      'doubling up to the cap',
    );
    const t0 = Date.now();
    await ingress.stop();
    assert.ok(Date.now() - t0 < 1000, 'stop does not wait for the next attempt');
    await assert.rejects(started, /stopped/);
    await assert.rejects(ingress.start(), /stopped/);
  });
});
