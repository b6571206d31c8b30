/**
 * The sending side of the `email` scenario, in its own process (so that it can be CPU-profiled
 * and its CPU counted alone): N mails through Herald's EmailProvider to an SMTP sink, in
 * batches like the delivery worker's, after a warm-up. Prints one JSON line.
 *
 *   node --import tsx bench/scenarios/email-provider-child.ts --port 2525 --count 20000
 *        [--batch 3200] [--connections 5] [--warmup 1000] [--mode provider|nodemailer]
 *
 * `--mode nodemailer` is the point of comparison: the same mails composed by nodemailer
 * itself (`sendMail({from, to, subject, text, html, headers})`, its MIME tree and encoders),
 * the way Herald sent them before it composed them itself.
 */
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../../src/channels/channel-provider.js';
import { EmailProvider } from '../../src/channels/email/email-provider.js';
import { emailHtml } from '../../src/channels/email/email-layout.js';

export interface ProviderRunResult {
  readonly count: number;
  readonly ok: number;
  readonly failed: number;
  readonly firstError: string | null;
  readonly ms: number;
  /** CPU of this process (all threads) during the measured sends, ms. */
  readonly cpuMs: number;
  /** Monotonic µs (V8's profile clock) of the measured window. */
  readonly window: readonly [number, number];
}

/** A course-change email as the demo renders it (Chinese, ~300 characters), numbered. */
function benchOutbound(i: number): OutboundMessage {
  const id = `0190a1b2-c3d4-7e5f-8a9b-${i.toString(16).padStart(12, '0')}`;
  const name = `压测用户${i}`;
  return {
    deliveryId: id,
    messageId: '0190a1b2-0000-7000-8000-000000000001',
    channel: 'email',
    userId: `u${i}`,
    recipient: { externalId: `B${String(i).padStart(7, '0')}`, name },
    address: `b${String(i).padStart(7, '0')}@stu.example.edu.cn`,
    category: 'course.change',
    source: { key: 'jwc', name: '教务处' },
    locale: 'zh-CN',
    content: {
      subject: '【调课通知】《作物栽培学》上课时间调整',
      body:
        `${name}，您好：\n\n因教学安排调整，《作物栽培学》的上课时间变更如下：\n\n` +
        '原时间：周三 第3–4节\n新时间：周五 第5–6节\n上课地点：农学楼 A-203\n\n' +
        '请合理安排时间，准时上课。如有疑问，请联系任课教师或学院教学办公室。\n\nXX农业大学教务处',
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      count: { type: 'string', default: '20000' },
      batch: { type: 'string', default: '3200' },
      connections: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1000' },
      mode: { type: 'string', default: 'provider' },
    },
  });
  const count = Number(values.count);
  const batch = Number(values.batch);
  const warmup = Number(values.warmup);
  const options = {
    url: `smtp://127.0.0.1:${values.port}`,
    from: 'XX农业大学 <noreply@example.edu.cn>',
    publicUrl: 'https://msg.example.edu.cn',
    pool: { maxConnections: Number(values.connections), maxMessages: 100 },
  };
  const provider =
    values.mode === 'nodemailer' ? nodemailerComposing(options) : new EmailProvider(options);
  const run = async (from: number, n: number) => {
    let ok = 0;
    let firstError: string | null = null;
    for (let i = from; i < from + n; i += batch) {
      const msgs = Array.from({ length: Math.min(batch, from + n - i) }, (_, k) =>
        benchOutbound(i + k),
      );
      for (const o of await provider.send(msgs)) {
        if (o.ok) ok++;
        else firstError ??= o.error.message;
      }
    }
    return { ok, firstError };
  };
  await run(1_000_000, warmup);
  const cpu0 = process.cpuUsage();
  const from = Number(process.hrtime.bigint() / 1000n);
  const t0 = performance.now();
  const { ok, firstError } = await run(0, count);
  const ms = performance.now() - t0;
  const to = Number(process.hrtime.bigint() / 1000n);
  const cpu = process.cpuUsage(cpu0);
  await provider.close?.();
  const result: ProviderRunResult = {
    count,
    ok,
    failed: count - ok,
    firstError,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    window: [from, to],
  };
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
}

/** The same mails, composed by nodemailer (its MailComposer) on the same kind of pool. */
function nodemailerComposing(o: {
  url: string;
  from: string;
  publicUrl: string;
  pool: { maxConnections: number; maxMessages: number };
}): ChannelProvider {
  const transport = nodemailer.createTransport({
    url: o.url,
    pool: true,
    maxConnections: o.pool.maxConnections,
    maxMessages: o.pool.maxMessages,
    maxRequeues: 0,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const unsubscribe = `<${o.publicUrl}/v1/me/preferences>`;
  return {
    name: 'nodemailer',
    async send(batch) {
      let next = 0;
      const out = new Array<SendOutcome>(batch.length);
      const lane = async () => {
        while (next < batch.length) {
          const i = next++;
          const m = batch[i]!;
          try {
            await transport.sendMail({
              from: o.from,
              to: { name: m.recipient.name, address: m.address },
              envelope: { from: 'noreply@example.edu.cn', to: [m.address] },
              subject: m.content.subject ?? '',
              messageId: `<${m.deliveryId}@herald>`,
              text: m.content.body,
              html: emailHtml({ lang: m.locale, body: m.content.body, footer: m.source.name }),
              headers: { 'X-Herald-Delivery-Id': m.deliveryId, 'List-Unsubscribe': unsubscribe },
            });
            out[i] = { ok: true, status: 'sent', providerMessageId: null };
          } catch (err) {
            out[i] = { ok: false, error: new DeliveryError(String(err), 'transient') };
          }
        }
      };
      await Promise.all(Array.from({ length: o.pool.maxConnections }, lane));
      return out;
    },
    async close() {
      transport.close();
    },
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
