// Sends one message to Herald through RabbitMQ (the AMQP ingress) and prints Herald's answer.
//
//   AMQP_URL=amqp://jwc:secret@mq.example.edu.cn:5672 node producer.mjs [body.json | -]
//
// The body is the same JSON as for POST /v1/messages. Without an argument the script sends the
// demo exam reminder (category exam.reminder, which the demo source jwc may send) to 2024010101;
// with a file name (or - for stdin) it sends that JSON instead.
//
// Who sends: the connection's RabbitMQ user goes into the message's userId (user_id) property,
// which the broker checks, and Herald maps to a source (PATCH /v1/sources/{key}
// {"amqpUser": "jwc"}). Or set HERALD_KEY to a source API key (hk_…): it travels in the
// x-api-key header.
//
// Settings (environment): AMQP_URL (default amqp://guest:guest@localhost:5672), INGRESS_EXCHANGE
// (default herald.ingress), HERALD_KEY, MESSAGE_ID (default: a new UUID; it is the idempotency
// key, so reuse it to retry safely), REPLY_TIMEOUT in seconds (default 10).
//
// The message is persistent and published on a confirm channel (mandatory, so a missing
// exchange or binding is an error, not a silent drop). Herald answers on an exclusive reply
// queue (replyTo + correlationId). On a connection error, a refused publish or no answer in
// time the script tries again with the SAME messageId: Herald accepts it at most once and
// answers a retry with the first message's id.
//
// Prints the answer as one JSON line on stdout: {"id": …, "status": "accepted"} or an RFC 9457
// problem. Exit status: 0 accepted, 1 refused (see the problem), 2 no answer.
// Node 18+ and amqplib (npm install amqplib).
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import amqp from 'amqplib';

const url = process.env.AMQP_URL || 'amqp://guest:guest@localhost:5672';
const exchange = process.env.INGRESS_EXCHANGE || 'herald.ingress';
const apiKey = process.env.HERALD_KEY || '';
const messageId = process.env.MESSAGE_ID || randomUUID();
const replyTimeoutMs = Number(process.env.REPLY_TIMEOUT || '10') * 1000;

const demoBody = {
  category: 'exam.reminder',
  to: { users: ['2024010101'] },
  data: {
    course: '植物生理学',
    time: '2025-01-08 09:00–11:00',
    room: '北区教学楼 A201',
    seat: '17',
  },
};

function readBody() {
  const arg = process.argv[2];
  if (arg === undefined) return Buffer.from(JSON.stringify(demoBody));
  return readFileSync(arg === '-' ? 0 : arg);
}

/** The category as routing key: not needed by Herald, handy for taps on the exchange. */
function routingKey(body) {
  try {
    return String(JSON.parse(body.toString('utf8')).category ?? '');
  } catch {
    return '';
  }
}

/** Publishes the message and waits for Herald's answer; resolves { status, answer }. */
async function sendOnce(body) {
  const connection = await amqp.connect(url);
  connection.on('error', () => {}); // the 'close' that follows is handled by the promises
  try {
    const channel = await connection.createConfirmChannel();
    const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
    const correlationId = randomUUID();
    const answered = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer within ${replyTimeoutMs / 1000} s`)),
        replyTimeoutMs,
      );
      channel.on('return', () => {
        clearTimeout(timer);
        reject(new Error(`exchange ${exchange} did not route the message (is Herald running?)`));
      });
      channel.on('close', () => {
        clearTimeout(timer);
        reject(new Error('the channel was closed'));
      });
      void channel.consume(
        replyQueue,
        (message) => {
          if (message?.properties.correlationId !== correlationId) return;
          clearTimeout(timer);
          resolve({
            status: Number(message.properties.headers?.status ?? 0),
            answer: JSON.parse(message.content.toString('utf8')),
          });
        },
        { noAck: true },
      );
    });
    answered.catch(() => {}); // awaited below; do not let an early rejection go unhandled
    await new Promise((resolve, reject) =>
      channel.publish(
        exchange,
        routingKey(body),
        body,
        {
          contentType: 'application/json',
          persistent: true,
          messageId,
          correlationId,
          replyTo: replyQueue,
          // RabbitMQ refuses a user_id that is not the connection's user: Herald can trust it.
          userId: decodeURIComponent(new URL(url).username) || 'guest',
          headers: apiKey ? { 'x-api-key': apiKey } : {},
          mandatory: true,
        },
        (err) => (err ? reject(new Error('the broker refused the message')) : resolve()),
      ),
    );
    return await answered;
  } finally {
    await connection.close().catch(() => {});
  }
}

const body = readBody();
let result = null;
for (let attempt = 1; attempt <= 5 && result === null; attempt++) {
  try {
    result = await sendOnce(body);
  } catch (err) {
    console.error(`attempt ${attempt}: ${err.message}; retrying with messageId ${messageId}`);
    await sleep(attempt * 1000);
  }
}
if (result === null) {
  console.error('Herald did not answer');
  process.exit(2);
}
const { status, answer } = result;
console.log(JSON.stringify(answer));
if (status === 202) {
  console.error(`Accepted as ${answer.id} (messageId ${messageId})`);
} else {
  console.error(`Refused (${status} ${answer.code}): ${answer.detail}`);
  process.exitCode = 1;
}
