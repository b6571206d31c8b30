import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import type { DeliveriesTable } from '../store/schema.js';
import type { JobInput, LeasedJob, Queue } from '../queue/queue.js';
import type { Clock } from '../time/clock.js';
import type { ProviderRegistry } from '../channels/provider-registry.js';
import { newId } from '../store/ids.js';
import { streamAudience } from '../recipients/audience.js';
import { preferencesFor } from '../preferences/preferences-store.js';
import { getCategoriesByKeys } from '../categories/categories-store.js';
import { getMessage, setFanoutProgress } from '../messages/messages-store.js';
import { insertDeliveries } from '../deliveries/deliveries-store.js';
import { planDeliveries } from './plan-deliveries.js';

export const deliverTopic = (channel: string) => `deliver.${channel}`;

/** Deliveries per delivery job: one job, one lease, one commit for up to this many sends. */
export const DELIVERIES_PER_JOB = 100;

export interface DeliverJobPayload {
  readonly deliveryIds: readonly string[];
}

export interface FanoutDeps {
  readonly db: Db;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly providers: ProviderRegistry;
  readonly log: Logger;
  readonly batchSize?: number;
  /** The job's visibility timeout, renewed after every batch. */
  readonly leaseMs: number;
  readonly onDeliveriesCreated?: (byChannelStatus: Map<string, number>) => void;
}

/**
 * Turns one message into deliveries, streaming the audience in batches by user id. Each batch
 * commits its deliveries, their delivery jobs and the fan-out cursor in ONE transaction, so a
 * fan-out resumed after a crash continues after the last committed batch and — thanks to the
 * unique (message, user, channel) key — never creates a delivery twice.
 */
export async function fanOut(deps: FanoutDeps, job: LeasedJob): Promise<void> {
  const { db, queue, clock } = deps;
  const { messageId } = job.payload as { messageId: string };
  const message = await getMessage(db, messageId);
  if (!message || message.status === 'dispatched') {
    await queue.ack([job]);
    return;
  }
  const [category] = await getCategoriesByKeys(db, [message.categoryKey]);
  if (!category) {
    // The category was deleted after acceptance (deletion refuses while messages exist).
    deps.log.error({ messageId }, 'fan-out: category missing, dead-lettering');
    await queue.deadLetter(job, `category ${message.categoryKey} missing`);
    return;
  }
  const batchSize = deps.batchSize ?? 1000;
  let cursor = message.fanoutCursor;
  for await (const recipients of streamAudience(db, message.audience, {
    batchSize,
    ...(cursor ? { after: cursor } : {}),
  })) {
    const now = clock();
    const prefs = await preferencesFor(
      db,
      recipients.map((r) => r.id),
      category.key,
    );
    const rows: DeliveriesTable[] = [];
    for (const recipient of recipients) {
      for (const planned of planDeliveries({
        recipient,
        category,
        messageChannels: message.channels,
        messageLocale: message.locale,
        preference: prefs.get(recipient.id),
        channelServed: (c) => deps.providers.providerFor(c) !== null,
      })) {
        rows.push({
          id: newId(now),
          message_id: message.id,
          user_id: recipient.id,
          channel: planned.channel,
          status: planned.status,
          reason: planned.reason,
          locale: planned.locale,
          attempts: 0,
          last_error: null,
          provider: null,
          provider_message_id: null,
          created_at: now,
          updated_at: now,
          final_at: planned.status === 'suppressed' ? now : null,
        });
      }
    }
    cursor = recipients[recipients.length - 1]!.id;
    const userOf = new Map(rows.map((r) => [r.id, r.user_id]));
    const created = await db.transaction().execute(async (tx) => {
      const created = await insertDeliveries(tx, rows);
      const jobs: JobInput[] = [];
      const byChannel = new Map<string, string[]>();
      for (const d of created) {
        if (d.status !== 'queued') continue;
        const ids = byChannel.get(d.channel) ?? [];
        ids.push(d.id);
        byChannel.set(d.channel, ids);
      }
      for (const [channel, ids] of byChannel) {
        for (let i = 0; i < ids.length; i += DELIVERIES_PER_JOB) {
          const payload: DeliverJobPayload = { deliveryIds: ids.slice(i, i + DELIVERIES_PER_JOB) };
          jobs.push({ topic: deliverTopic(channel), lane: message.priority, payload });
        }
      }
      await queue.enqueue(jobs, tx);
      const reached = new Set(created.map((d) => userOf.get(d.id)));
      await setFanoutProgress(
        tx,
        message.id,
        { status: 'fanning_out', cursor, addRecipients: reached.size },
        now,
      );
      return created;
    });
    if (!(await queue.extendLease(job, deps.leaseMs))) {
      // Another worker holds the job now (we were too slow); it resumes from our cursor.
      deps.log.warn({ messageId }, 'fan-out lost its lease; leaving the rest to its new holder');
      return;
    }
    if (deps.onDeliveriesCreated && created.length > 0) {
      const counts = new Map<string, number>();
      for (const d of created)
        counts.set(
          `${d.channel}\u0000${d.status}`,
          (counts.get(`${d.channel}\u0000${d.status}`) ?? 0) + 1,
        );
      deps.onDeliveriesCreated(counts);
    }
  }
  await db.transaction().execute(async (tx) => {
    await setFanoutProgress(
      tx,
      message.id,
      { status: 'dispatched', cursor, addRecipients: 0 },
      clock(),
    );
    await queue.ack([job], tx);
  });
  deps.log.debug({ messageId }, 'fan-out finished');
}
