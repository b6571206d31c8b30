/**
 * One side of the raw broker ceiling (scenario `broker` of the scale-out mode), in its own
 * process like Herald's own processes: plain amqplib, no Herald code on the path except the
 * names, queue arguments and message headers, so that the broker sees what it sees from
 * Herald — durable quorum queues behind a direct exchange, persistent `mandatory` messages
 * with Herald's job headers and body sizes, publisher confirms, manual acks.
 *
 *   consume '<json>'   consumes the topics' normal-lane queues with basic.qos(prefetch) per
 *                      consumer and acks every message on arrival; prints
 *                      `{"acked":n,"at":ms}` lines (at = wall-clock ms of the last ack)
 *   publish '<json>'   connects and prints `ready`; then each stdin line `publish <count>`
 *                      publishes that many messages, round-robin over the topics, keeping at
 *                      most `window` unconfirmed, and prints one JSON line with the times
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { connect, type ConfirmChannel } from 'amqplib';
import { jobHeaders } from '../../src/queue/rabbitmq/job-message.js';
import { Topology } from '../../src/queue/rabbitmq/topology.js';

/** A topic and the body of the job messages published to it. */
export interface CeilingTopic {
  readonly topic: string;
  readonly body: string;
}

export interface CeilingChildConfig {
  readonly url: string;
  readonly prefix: string;
  readonly topics: readonly CeilingTopic[];
  /** basic.qos per consumer (HERALD_BROKER_PREFETCH is Herald's). */
  readonly prefetch: number;
  /** Most unconfirmed publications at once. */
  readonly window: number;
  /** The queues' x-delivery-limit, as Herald declares them. */
  readonly deliveryLimit: number;
}

export interface PublishRound {
  readonly published: number;
  /** Wall-clock ms (performance.timeOrigin-based) of the first publish and the last confirm. */
  readonly firstPublishAt: number;
  readonly lastConfirmAt: number;
  readonly nacked: number;
  /** Times the socket buffer was full and the publisher waited for 'drain'. */
  readonly drains: number;
}

const wallMs = () => performance.timeOrigin + performance.now();

async function open(config: CeilingChildConfig, role: string) {
  const connection = await connect(config.url, {
    clientProperties: { connection_name: `herald bench broker-ceiling ${role} ${process.pid}` },
  });
  const topology = new Topology(config.prefix, config.deliveryLimit);
  const setup = await connection.createChannel();
  await topology.declareBase(setup);
  for (const { topic } of config.topics) await topology.declareTopic(setup, topic);
  await setup.close();
  const stop = async () => {
    await connection.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  return { connection, topology };
}

async function consume(config: CeilingChildConfig): Promise<void> {
  const { connection, topology } = await open(config, 'consumer');
  const channel = await connection.createChannel();
  await channel.prefetch(config.prefetch, false);
  let acked = 0;
  let at = 0;
  for (const { topic } of config.topics) {
    await channel.consume(
      topology.jobQueue(topic, 'normal'),
      (message) => {
        if (!message) return;
        channel.ack(message);
        acked++;
        at = wallMs();
      },
      { noAck: false },
    );
  }
  process.stdout.write('ready\n');
  let reported = -1;
  setInterval(() => {
    if (acked === reported) return;
    reported = acked;
    process.stdout.write(`${JSON.stringify({ acked, at })}\n`);
  }, 10);
}

async function publishRound(
  channel: ConfirmChannel,
  config: CeilingChildConfig,
  topology: Topology,
  count: number,
  seq: { next: number },
): Promise<PublishRound> {
  const bodies = config.topics.map((t) => Buffer.from(t.body, 'utf8'));
  let sent = 0;
  let confirmed = 0;
  let nacked = 0;
  let drains = 0;
  let lastConfirmAt = 0;
  const firstPublishAt = wallMs();
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sent < count && sent - confirmed < config.window) {
        const k = sent % config.topics.length;
        const { topic, body } = config.topics[k]!;
        const now = Date.now();
        const id = String(seq.next++);
        const writable = channel.publish(
          topology.jobsExchange,
          topology.routingKey(topic, 'normal'),
          bodies[k]!,
          {
            persistent: true,
            mandatory: true,
            contentType: 'application/json',
            messageId: randomBytes(9).toString('base64url'),
            headers: jobHeaders({
              id,
              topic,
              lane: 'normal',
              payload: body,
              availableAt: now,
              maxDeliveries: 10,
              deliveries: 0,
              createdAt: now,
              lastError: null,
            }),
          },
          (err: unknown) => {
            if (err) nacked++;
            confirmed++;
            lastConfirmAt = wallMs();
            if (confirmed === count) resolve();
            else pump();
          },
        );
        sent++;
        if (!writable) {
          drains++;
          channel.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  return { published: count, firstPublishAt, lastConfirmAt, nacked, drains };
}

async function publish(config: CeilingChildConfig): Promise<void> {
  const { connection, topology } = await open(config, 'publisher');
  const channel = await connection.createConfirmChannel();
  channel.on('return', () => process.stderr.write('a ceiling message was unroutable\n'));
  const seq = { next: 1 };
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const m = /^publish (\d+)$/.exec(line.trim());
    if (!m) continue;
    const round = await publishRound(channel, config, topology, Number(m[1]), seq);
    process.stdout.write(`${JSON.stringify(round)}\n`);
  }
  await connection.close().catch(() => undefined);
}

const [role, json] = process.argv.slice(2);
const config = JSON.parse(json ?? '{}') as CeilingChildConfig;
const run = role === 'consume' ? consume : role === 'publish' ? publish : null;
if (!run) {
  process.stderr.write('usage: broker-ceiling-child.ts consume|publish <json config>\n');
  process.exit(2);
}
run(config).catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
