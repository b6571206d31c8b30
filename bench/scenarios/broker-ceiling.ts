/**
 * Denominator of the scale-out mode: the raw round-trip rate of this RabbitMQ, measured in the
 * same run — publish (persistent, mandatory, confirms with at most `window` unconfirmed) →
 * consume (manual acks, `prefetch` per consumer) → ack, with plain amqplib in processes of
 * their own (one publisher, `consumers` consumers: like one api and two workers), on durable
 * quorum queues declared as Herald declares its job queues, with messages of the size of
 * Herald's job messages (its headers, and a body like its fan-out or delivery jobs).
 *
 * Two message profiles, each on the two queues the matching Herald scenario uses:
 * - `broadcast`: delivery jobs of 100 delivery ids (the size of every job of the broadcast)
 *   on deliver.in_app and deliver.sms;
 * - `ingest`: fan-out jobs (one message id) and delivery jobs of one delivery id, alternating,
 *   on fanout and deliver.in_app (the two jobs behind each message of the ingest scenario).
 */
import { join } from 'node:path';
import { ROOT, startChild, type StartedChild } from '../lib/child.js';
import { measureUsage, type UsageReport } from '../lib/process-usage.js';
import { sleep } from '../lib/http.js';
import { newId } from '../../src/store/ids.js';
import { jobHeaders } from '../../src/queue/rabbitmq/job-message.js';
import type { CeilingChildConfig, CeilingTopic, PublishRound } from './broker-ceiling-child.js';

export type CeilingProfile = 'broadcast' | 'ingest';

export interface BrokerCeilingOptions {
  readonly url: string;
  /** Names of the queues: `<prefix>.jobs.<topic>.normal` (removed with the run). */
  readonly prefix: string;
  readonly profile: CeilingProfile;
  /** Messages of the measured round (after a warm-up round of a tenth as many). */
  readonly count: number;
  readonly window: number;
  readonly prefetch: number;
  readonly consumers: number;
  readonly timeoutS: number;
  readonly log: (line: string) => void;
}

export interface BrokerCeilingResult {
  readonly profile: CeilingProfile;
  readonly topics: readonly string[];
  /** Bytes of a message body, per topic. */
  readonly bodyBytes: Record<string, number>;
  /** Bytes of the job headers as Herald sends them (field table, approximate: names + values). */
  readonly headerBytes: number;
  readonly count: number;
  readonly window: number;
  readonly prefetch: number;
  readonly consumers: number;
  /** First publish → last ack: the round trip the ratio is taken against. */
  readonly roundTripPerS: number;
  /** First publish → last confirm (consumers running meanwhile). */
  readonly publishPerS: number;
  readonly ms: number;
  readonly nacked: number;
  readonly usage: UsageReport;
}

/** The bodies of Herald's job messages for a profile (same JSON shapes, same id format). */
export function ceilingTopics(profile: CeilingProfile): CeilingTopic[] {
  const ids = (n: number) => Array.from({ length: n }, () => newId());
  if (profile === 'broadcast') {
    return ['deliver.in_app', 'deliver.sms'].map((topic) => ({
      topic,
      body: JSON.stringify({ deliveryIds: ids(100) }),
    }));
  }
  return [
    { topic: 'fanout', body: JSON.stringify({ messageId: newId() }) },
    { topic: 'deliver.in_app', body: JSON.stringify({ deliveryIds: ids(1) }) },
  ];
}

function headerBytes(topic: CeilingTopic): number {
  const now = Date.now();
  const h = jobHeaders({
    id: '123456',
    topic: topic.topic,
    lane: 'normal',
    payload: topic.body,
    availableAt: now,
    maxDeliveries: 10,
    deliveries: 0,
    createdAt: now,
    lastError: null,
  });
  return Object.entries(h).reduce((n, [k, v]) => n + k.length + String(v).length + 2, 0);
}

/** Lines a child prints after its ready line, one callback each. */
function onLines(child: StartedChild, fn: (line: string) => void): void {
  let rest = '';
  child.proc.stdout!.on('data', (b: Buffer) => {
    rest += b.toString();
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l.trim()) fn(l.trim());
  });
}

export async function runBrokerCeiling(opts: BrokerCeilingOptions): Promise<BrokerCeilingResult> {
  const topics = ceilingTopics(opts.profile);
  const config: CeilingChildConfig = {
    url: opts.url,
    prefix: opts.prefix,
    topics,
    prefetch: opts.prefetch,
    window: opts.window,
    deliveryLimit: 50,
  };
  const script = join(ROOT, 'bench/scenarios/broker-ceiling-child.ts');
  const spawnSide = (role: 'consume' | 'publish', name: string) =>
    startChild({
      name,
      args: ['--import', 'tsx', script, role, JSON.stringify(config)],
      env: {},
      ready: /^ready$/m,
      startTimeoutMs: 30_000,
      stdin: role === 'publish',
    });
  const children: StartedChild[] = [];
  try {
    const consumers: StartedChild[] = [];
    const acked: { acked: number; at: number }[] = [];
    for (let i = 0; i < opts.consumers; i++) {
      const c = await spawnSide('consume', `broker-ceiling consumer ${i + 1}`);
      children.push(c);
      consumers.push(c);
      const state = { acked: 0, at: 0 };
      acked.push(state);
      onLines(c, (line) => Object.assign(state, JSON.parse(line) as typeof state));
    }
    const publisher = await spawnSide('publish', 'broker-ceiling publisher');
    children.push(publisher);
    const rounds: PublishRound[] = [];
    onLines(publisher, (line) => rounds.push(JSON.parse(line) as PublishRound));

    const totalAcked = () => acked.reduce((n, s) => n + s.acked, 0);
    const round = async (count: number): Promise<{ round: PublishRound; lastAckAt: number }> => {
      const before = totalAcked();
      const seen = rounds.length;
      publisher.proc.stdin!.write(`publish ${count}\n`);
      const deadline = performance.now() + opts.timeoutS * 1000;
      while (rounds.length === seen || totalAcked() < before + count) {
        for (const c of children)
          if (c.exited()) throw new Error(`${c.name} exited:\n${c.errors().slice(-2000)}`);
        if (performance.now() > deadline)
          throw new Error(
            `broker ceiling: ${totalAcked() - before}/${count} acked after ${opts.timeoutS} s`,
          );
        await sleep(5);
      }
      // The consumers print every 10 ms: wait for the lines that carry the last acks' times.
      await sleep(30);
      return { round: rounds[seen]!, lastAckAt: Math.max(...acked.map((s) => s.at)) };
    };

    const warmup = Math.max(100, Math.round(opts.count / 10));
    opts.log(`  broker (${opts.profile}): warm-up ${warmup} messages`);
    await round(warmup);
    opts.log(
      `  broker (${opts.profile}): ${opts.count} messages, window ${opts.window}, prefetch ${opts.prefetch}, ${opts.consumers} consumers`,
    );
    const usage = measureUsage(children.map((c) => ({ name: c.name, pid: c.pid })));
    const { round: r, lastAckAt } = await round(opts.count);
    const report = usage.stop();
    const ms = lastAckAt - r.firstPublishAt;
    return {
      profile: opts.profile,
      topics: topics.map((t) => t.topic),
      bodyBytes: Object.fromEntries(topics.map((t) => [t.topic, Buffer.byteLength(t.body)])),
      headerBytes: Math.max(...topics.map(headerBytes)),
      count: opts.count,
      window: opts.window,
      prefetch: opts.prefetch,
      consumers: opts.consumers,
      roundTripPerS: opts.count / (ms / 1000),
      publishPerS: opts.count / ((r.lastConfirmAt - r.firstPublishAt) / 1000),
      ms,
      nacked: r.nacked,
      usage: report,
    };
  } finally {
    for (const c of children.reverse()) {
      c.proc.stdin?.end();
      await c.stop(5_000);
    }
  }
}
