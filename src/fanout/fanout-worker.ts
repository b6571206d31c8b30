import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Db, Tx } from '../store/database.js';
import { inTransaction } from '../store/transaction.js';
import type { DeliveriesTable } from '../store/schema.js';
import type { JobInput, LeasedJob, Queue } from '../queue/queue.js';
import type { Clock } from '../time/clock.js';
import type { ProviderRegistry } from '../channels/provider-registry.js';
import type { Recipient } from '../recipients/audience-types.js';
import { streamAudience } from '../recipients/audience.js';
import { preferencesFor, type CategoryPreference } from '../preferences/preferences-store.js';
import type { Category } from '../categories/categories-store.js';
import { directLookups, type Lookups } from '../runtime/cached-lookups.js';
import {
  getMessages,
  setDispatched,
  setFanoutProgress,
  type StoredMessage,
} from '../messages/messages-store.js';
import { insertDeliveries } from '../deliveries/deliveries-store.js';
import { deliveryRow, planDeliveries } from './plan-deliveries.js';
import type { CallbackEmitter } from '../callbacks/callback-emitter.js';
import { enforceQuotas, type QuotaExceeded, type QuotaOwner } from '../quotas/enforce-quotas.js';
import { quotaOwnerOf } from '../quotas/quota-owners.js';
import { quotaDay } from '../quotas/quota-day.js';
import { backoffMs } from '../deliveries/retry-policy.js';

export const deliverTopic = (channel: string) => `deliver.${channel}`;

/** Deliveries per delivery job: one job, one lease, one commit for up to this many sends. */
export const DELIVERIES_PER_JOB = 100;

/**
 * Leases a delivery job may take without an ack. The last lease is handled by burying the
 * job's deliveries as dead (see deliverJobs), so they end in a final state instead of staying
 * queued behind a job the queue itself dead-lettered.
 */
export const DELIVER_JOB_MAX_LEASES = 10;

export interface DeliverJobPayload {
  readonly deliveryIds: readonly string[];
}

export interface FanoutDeps {
  readonly db: Db;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly providers: ProviderRegistry;
  readonly log: Logger;
  /** Users per fan-out batch (one transaction each). */
  readonly batchSize?: number;
  /** The job's visibility timeout, renewed after every batch of a large audience. */
  readonly leaseMs: number;
  readonly onDeliveriesCreated?: (created: readonly { channel: string; status: string }[]) => void;
  /** The campus timezone (config.timezone): the day daily quotas are charged to. */
  readonly timezone: string;
  /** Deliveries just suppressed `quota-exceeded` (after their commit). */
  readonly onQuotaExceeded?: (exceeded: readonly QuotaExceeded[]) => void;
  /** Status callbacks of suppressed deliveries, written with them. */
  readonly callbackEmitter?: CallbackEmitter;
  /** Categories and sources, cached or not (default: read for every lease). */
  readonly lookups?: Lookups;
}

/** What writeDeliveries charges daily quotas with. */
export interface QuotaCharge {
  /** The quota day, `YYYY-MM-DD` in the campus timezone. */
  readonly day: string;
  readonly now: number;
  /** The quota-bound source of a message, if it is one. */
  readonly ownerOf: (messageId: string) => QuotaOwner | undefined;
}

interface Work {
  readonly job: LeasedJob;
  readonly message: StoredMessage;
  readonly category: Category;
  /** The message's source when it has daily quotas. */
  readonly owner: QuotaOwner | undefined;
}

/**
 * Turns messages into deliveries. The audience is streamed in batches by user id; each batch
 * commits its deliveries, their delivery jobs and the fan-out cursor in ONE transaction, so a
 * fan-out resumed after a crash continues after the last committed batch and — thanks to the
 * unique (message, user, channel) key — never creates a delivery twice.
 *
 * Messages whose whole audience fits in one batch (most of them) are handled together: one
 * transaction for all of them, so a stream of single-recipient messages costs one commit per
 * lease, not several per message.
 *
 * A message that fails (its audience cannot be resolved, its deliveries cannot be written)
 * fails only its own job: it is given back with a backoff (the queue dead-letters it after its
 * `maxDeliveries` leases) while the lease's other messages commit. When the shared transaction
 * fails, nothing of it committed and each message is committed alone.
 */
export async function fanOutJobs(deps: FanoutDeps, jobs: readonly LeasedJob[]): Promise<void> {
  const { db, queue } = deps;
  const batchSize = deps.batchSize ?? 1000;
  const done: LeasedJob[] = [];
  const large: Work[] = [];
  const small: { work: Work; recipients: Recipient[] }[] = [];

  const byId = await getMessages(
    db,
    jobs.map((job) => (job.payload as { messageId: string }).messageId),
  );
  const messages = jobs.map((job) => byId.get((job.payload as { messageId: string }).messageId));
  const lookups = deps.lookups ?? directLookups;
  const categories = await lookups.categories(
    db,
    messages.flatMap((m) => (m ? [m.categoryKey] : [])),
  );
  const owners = new Map<string, QuotaOwner>();
  for (const [id, source] of await lookups.sources(
    db,
    messages.flatMap((m) => (m ? [m.sourceId] : [])),
  )) {
    const owner = quotaOwnerOf(source);
    if (owner) owners.set(id, owner);
  }
  for (const [i, job] of jobs.entries()) {
    const message = messages[i];
    if (!message || message.status === 'dispatched') {
      done.push(job);
      continue;
    }
    const category = categories.get(message.categoryKey);
    if (!category) {
      // Deleting a category is refused while messages use it; this is a broken invariant.
      deps.log.error({ messageId: message.id }, 'fan-out: category missing, dead-lettering');
      await queue.deadLetter(job, `category ${message.categoryKey} missing`);
      continue;
    }
    const work = { job, message, category, owner: owners.get(message.sourceId) };
    if (message.fanoutCursor !== null) {
      large.push(work);
      continue;
    }
    try {
      const first = await streamAudience(db, message.audience, { batchSize }).next();
      const recipients = first.done ? [] : first.value;
      if (recipients.length < batchSize) small.push({ work, recipients });
      else large.push(work);
    } catch (err) {
      await failJob(deps, work, err);
    }
  }

  if (small.length > 0 || done.length > 0) {
    const prefsByCategory = await preferencesOfLease(db, small);
    const planned: Planned[] = [];
    const now = deps.clock();
    for (const { work, recipients } of small) {
      await setImmediate();
      try {
        planned.push({
          work,
          rows: plan(deps, work, recipients, prefsByCategory.get(work.category.key), now),
        });
      } catch (err) {
        await failJob(deps, work, err);
      }
    }
    try {
      if (planned.length > 0 || done.length > 0) await commitSmall(deps, planned, done, now);
    } catch (err) {
      // Nothing of the shared transaction committed. Each message alone now, so that one
      // message's failure holds back only its own job.
      if (planned.length > 1)
        deps.log.warn(
          { err, messages: planned.length },
          'fan-out: shared commit failed; one by one',
        );
      if (done.length > 0) await queue.ack(done);
      for (const one of planned) {
        try {
          if (planned.length === 1) throw err;
          await commitSmall(deps, [one], [], deps.clock());
        } catch (oneErr) {
          await failJob(deps, one.work, oneErr);
        }
      }
    }
  }

  for (const work of large) {
    try {
      await fanOutLarge(deps, work, batchSize);
    } catch (err) {
      // The batches committed so far stay (with the cursor): the retry resumes after them.
      await failJob(deps, work, err);
    }
  }
}

/** A message of the lease with its deliveries planned. */
interface Planned {
  readonly work: Work;
  readonly rows: DeliveriesTable[];
}

/** Preferences of every recipient of the lease's small messages, one read per category. */
async function preferencesOfLease(
  db: Db,
  small: readonly { work: Work; recipients: Recipient[] }[],
): Promise<Map<string, Map<string, CategoryPreference>>> {
  const usersByCategory = new Map<string, Set<string>>();
  for (const { work, recipients } of small) {
    const users = usersByCategory.get(work.category.key) ?? new Set<string>();
    for (const r of recipients) users.add(r.id);
    usersByCategory.set(work.category.key, users);
  }
  const prefsByCategory = new Map<string, Map<string, CategoryPreference>>();
  for (const [category, users] of usersByCategory) {
    if (users.size > 0)
      prefsByCategory.set(category, await preferencesFor(db, [...users], category));
  }
  return prefsByCategory;
}

/**
 * Writes the deliveries of whole small messages, marks them dispatched and acks their jobs
 * (and `done`, jobs with nothing left to do) in ONE transaction.
 */
async function commitSmall(
  deps: FanoutDeps,
  planned: readonly Planned[],
  done: readonly LeasedJob[],
  now: number,
): Promise<void> {
  const { db, queue } = deps;
  const rows = planned.flatMap((p) => p.rows);
  const lanes = new Map(planned.map(({ work }) => [work.message.id, work.message.priority]));
  const ownerOfMessage = new Map(planned.map(({ work }) => [work.message.id, work.owner]));
  const quota: QuotaCharge = {
    day: quotaDay(now, deps.timezone),
    now,
    ownerOf: (messageId) => ownerOfMessage.get(messageId),
  };
  const { created, exceeded } = await inTransaction(db, async (tx) => {
    const { created, reached, exceeded } = await writeDeliveries(
      queue,
      tx,
      rows,
      lanes,
      quota,
      deps.callbackEmitter,
    );
    await setDispatched(
      tx,
      new Map(planned.map(({ work }) => [work.message.id, reached.get(work.message.id) ?? 0])),
      now,
    );
    await queue.ack([...done, ...planned.map((p) => p.work.job)], tx);
    return { created, exceeded };
  });
  deps.onDeliveriesCreated?.(created);
  if (exceeded.length > 0) deps.onQuotaExceeded?.(exceeded);
}

/**
 * One message failed (its audience cannot be resolved, a write of its deliveries failed): its
 * job alone goes back to the queue, leased again after a backoff, and dead-lettered by the
 * queue once it has been leased `maxDeliveries` times. The lease's other messages go on.
 */
async function failJob(deps: FanoutDeps, work: Work, err: unknown): Promise<void> {
  const { job, message } = work;
  const error = err instanceof Error ? err.message : String(err);
  const at = deps.clock() + backoffMs(job.deliveries);
  deps.log.error(
    { err, messageId: message.id, job: job.id, leases: job.deliveries, retryAt: at },
    'fan-out of a message failed; its job is retried alone',
  );
  try {
    await deps.queue.retryAt(job, at, error);
  } catch (retryErr) {
    // The job is still leased: it comes back when the lease runs out.
    deps.log.error({ err: retryErr, job: job.id }, 'fan-out: could not give the job back');
  }
}

/** A large audience: one transaction per batch, the lease renewed as it goes. */
async function fanOutLarge(deps: FanoutDeps, work: Work, batchSize: number): Promise<void> {
  const { db, queue, clock } = deps;
  const { job, message } = work;
  let cursor = message.fanoutCursor;
  for await (const recipients of streamAudience(db, message.audience, {
    batchSize,
    ...(cursor ? { after: cursor } : {}),
  })) {
    await setImmediate();
    const now = clock();
    const prefs = await preferencesFor(
      db,
      recipients.map((r) => r.id),
      work.category.key,
    );
    const rows = plan(deps, work, recipients, prefs, now);
    cursor = recipients[recipients.length - 1]!.id;
    const last = recipients.length < batchSize;
    const quota: QuotaCharge = {
      day: quotaDay(now, deps.timezone),
      now,
      ownerOf: () => work.owner,
    };
    const { created, exceeded } = await inTransaction(db, async (tx) => {
      const { created, reached, exceeded } = await writeDeliveries(
        queue,
        tx,
        rows,
        new Map([[message.id, message.priority]]),
        quota,
        deps.callbackEmitter,
      );
      await setFanoutProgress(
        tx,
        message.id,
        {
          status: last ? 'dispatched' : 'fanning_out',
          cursor,
          addRecipients: reached.get(message.id) ?? 0,
        },
        now,
      );
      if (last) await queue.ack([job], tx);
      return { created, exceeded };
    });
    deps.onDeliveriesCreated?.(created);
    if (exceeded.length > 0) deps.onQuotaExceeded?.(exceeded);
    if (last) return;
    if (!(await queue.extendLease(job, deps.leaseMs))) {
      // Another worker holds the job now (we were too slow); it resumes from our cursor.
      deps.log.warn(
        { messageId: message.id },
        'fan-out lost its lease; leaving the rest to its new holder',
      );
      return;
    }
  }
  // The audience ended exactly on a batch boundary (or was empty).
  await inTransaction(db, async (tx) => {
    await setFanoutProgress(
      tx,
      message.id,
      { status: 'dispatched', cursor, addRecipients: 0 },
      clock(),
    );
    await queue.ack([job], tx);
  });
}

/** The deliveries of `recipients`, given their preferences for the message's category. */
function plan(
  deps: FanoutDeps,
  work: Work,
  recipients: readonly Recipient[],
  prefs: ReadonlyMap<string, CategoryPreference> | undefined,
  now: number,
): DeliveriesTable[] {
  const { message, category } = work;
  const rows: DeliveriesTable[] = [];
  for (const recipient of recipients) {
    for (const planned of planDeliveries({
      recipient,
      category,
      messageChannels: message.channels,
      messageLocale: message.locale,
      preference: prefs?.get(recipient.id),
      channelServed: (c) => deps.providers.providerFor(c) !== null,
    })) {
      rows.push(deliveryRow(message.id, recipient.id, planned, now));
    }
  }
  return rows;
}

/**
 * Inserts planned deliveries (existing ones are left alone), charges the new queued ones to
 * their sources' daily quotas (those beyond are suppressed `quota-exceeded`, in this same
 * transaction) and enqueues delivery jobs for those still queued, grouped by channel and lane.
 * Returns the created deliveries (with their final status), how many users each message newly
 * reached (a resumed batch does not count anyone twice) and what the quotas refused.
 */
export async function writeDeliveries(
  queue: Queue,
  tx: Tx,
  rows: readonly DeliveriesTable[],
  laneOf: ReadonlyMap<string, StoredMessage['priority']>,
  quota: QuotaCharge,
  callbacks?: CallbackEmitter,
): Promise<{
  created: { id: string; channel: string; status: string }[];
  reached: Map<string, number>;
  exceeded: QuotaExceeded[];
}> {
  const created = await insertDeliveries(tx, rows);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const exceeded = await enforceQuotas(
    tx,
    created,
    (id) => quota.ownerOf(byId.get(id)!.message_id),
    quota.day,
    quota.now,
  );
  await callbacks?.deliveriesCreated(tx, rows, created);
  const users = new Map<string, Set<string>>();
  for (const d of created) {
    const row = byId.get(d.id)!;
    const set = users.get(row.message_id) ?? new Set();
    set.add(row.user_id);
    users.set(row.message_id, set);
  }
  const groups = new Map<
    string,
    { channel: string; lane: StoredMessage['priority']; ids: string[] }
  >();
  for (const d of created) {
    if (d.status !== 'queued') continue;
    const lane = laneOf.get(byId.get(d.id)!.message_id)!;
    const key = `${d.channel}\u0000${lane}`;
    const group = groups.get(key) ?? { channel: d.channel, lane, ids: [] };
    group.ids.push(d.id);
    groups.set(key, group);
  }
  const jobs: JobInput[] = [];
  for (const { channel, lane, ids } of groups.values()) {
    for (let i = 0; i < ids.length; i += DELIVERIES_PER_JOB) {
      const payload: DeliverJobPayload = { deliveryIds: ids.slice(i, i + DELIVERIES_PER_JOB) };
      jobs.push({
        topic: deliverTopic(channel),
        lane,
        payload,
        maxDeliveries: DELIVER_JOB_MAX_LEASES,
      });
    }
  }
  if (jobs.length > 0) await queue.enqueue(jobs, tx);
  return {
    created,
    reached: new Map([...users].map(([m, set]) => [m, set.size])),
    exceeded,
  };
}
