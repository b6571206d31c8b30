import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import { inTransaction } from '../store/transaction.js';
import type { DeadLettersTable, DeliveriesTable, DeliveryAttemptsTable } from '../store/schema.js';
import type { JobInput, LeasedJob, Queue } from '../queue/queue.js';
import type { Clock } from '../time/clock.js';
import type { ProviderRegistry } from '../channels/provider-registry.js';
import { addressFor, CHANNELS, isChannel, type Channel } from '../channels/channel.js';
import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../channels/channel-provider.js';
import {
  FailoverProvider,
  splitProviderMessageId,
} from '../channels/resilience/failover-provider.js';
import { sendSafely } from '../channels/resilience/delivery-outcomes.js';
import { newId } from '../store/ids.js';
import type { Metrics } from '../ops/metrics.js';
import { getMessages, type StoredMessage } from '../messages/messages-store.js';
import type { Category } from '../categories/categories-store.js';
import type { Source } from '../sources/sources-store.js';
import { directLookups, type Lookups } from '../runtime/cached-lookups.js';
import { recipientsByIds } from '../recipients/users-store.js';
import type { Recipient } from '../recipients/audience-types.js';
import type { StoredTemplate } from '../templates/templates-store.js';
import { renderContext } from '../templates/render-context.js';
import { localeChain } from '../templates/locale-chain.js';
import { TemplateRenderError, type TemplateRenderer } from '../templates/template-renderer.js';
import {
  applyDeliveryUpdates,
  insertAttempts,
  queuedDeliveries,
  type DeliveryUpdate,
} from './deliveries-store.js';
import { insertDeadLetters } from './dead-letters-store.js';
import { decideRetry, type RetryOptions } from './retry-policy.js';
import {
  DELIVER_JOB_MAX_LEASES,
  deliverTopic,
  writeDeliveries,
  type DeliverJobPayload,
} from '../fanout/fanout-worker.js';
import { fallbackDeliveries, type FailedDelivery } from './fallback-deliveries.js';
import { quotaOwnerOf } from '../quotas/quota-owners.js';
import { quotaDay } from '../quotas/quota-day.js';
import type { CallbackEmitter } from '../callbacks/callback-emitter.js';

export interface DeliveryWorkerDeps {
  readonly db: Db;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly providers: ProviderRegistry;
  readonly renderer: TemplateRenderer;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly retry?: RetryOptions;
  /** The campus timezone (config.timezone): the day fallback deliveries are charged to. */
  readonly timezone: string;
  /** Status callbacks of the outcomes, written in the transaction that records them. */
  readonly callbackEmitter?: CallbackEmitter;
  /** Categories, sources and templates, cached or not (default: read for every lease). */
  readonly lookups?: Lookups;
}

interface Prepared {
  readonly delivery: DeliveriesTable;
  readonly outbound: OutboundMessage | null;
  /** Set when the delivery cannot be attempted (render error, no template): fails permanently. */
  readonly error: DeliveryError | null;
}

/**
 * Handles the delivery jobs of one lease together (each holds up to DELIVERIES_PER_JOB
 * deliveries of one channel): renders each delivery for its recipient's locale, sends each
 * provider its share in one batch, then records every attempt, the new statuses, retries and
 * dead letters and acks the jobs in ONE transaction. A crash before that commit re-runs the
 * jobs after their lease: at-least-once towards the provider, with the duplicate window
 * limited to that crash.
 */
export async function deliverJobs(
  deps: DeliveryWorkerDeps,
  leased: readonly LeasedJob[],
): Promise<void> {
  const { db, queue, clock, log } = deps;
  const poisoned = leased.filter((job) => job.deliveries >= DELIVER_JOB_MAX_LEASES);
  if (poisoned.length > 0) await buryPoisoned(deps, poisoned);
  const jobs = leased.filter((job) => job.deliveries < DELIVER_JOB_MAX_LEASES);
  if (jobs.length === 0) return;
  await deps.providers.refresh(); // provider configuration changes (cheap when there are none)
  const deliveries = await queuedDeliveries(
    db,
    jobs.flatMap((job) => (job.payload as DeliverJobPayload).deliveryIds),
  );
  if (deliveries.length === 0) {
    await queue.ack(jobs);
    return;
  }
  // A user's messages go out in acceptance order: ids grow with creation (see newId), so
  // message id, then delivery id, is that order.
  deliveries.sort((a, b) =>
    a.message_id === b.message_id ? cmp(a.id, b.id) : cmp(a.message_id, b.message_id),
  );
  const context = await loadContext(db, deps.lookups ?? directLookups, deliveries);
  const started = clock();
  const prepared: Prepared[] = [];
  const templates = new Map<string, StoredTemplate | null>();
  for (const [i, delivery] of deliveries.entries()) {
    prepared.push(await prepare(deps, delivery, context, templates));
    // SQLite and rendering are synchronous underneath: let HTTP requests in now and then.
    if (i % 200 === 199) await setImmediate();
  }

  // Send per provider (one channel per job, so normally one provider).
  const outcomes = new Map<string, { provider: string; outcome: SendOutcome }>();
  const byProvider = new Map<ChannelProvider, Prepared[]>();
  for (const p of prepared) {
    if (!p.outbound) continue;
    const provider = deps.providers.providerFor(p.outbound.channel);
    if (!provider) {
      outcomes.set(p.delivery.id, {
        provider: 'none',
        outcome: { ok: false, error: new DeliveryError('channel-not-configured', 'permanent') },
      });
      continue;
    }
    const list = byProvider.get(provider) ?? [];
    list.push(p);
    byProvider.set(provider, list);
  }
  for (const [provider, list] of byProvider) {
    // A provider that throws or miscounts fails the whole batch transiently (sendSafely).
    const results = await sendSafely(
      provider,
      list.map((p) => p.outbound!),
    );
    list.forEach((p, i) => outcomes.set(p.delivery.id, attribute(provider, results[i]!)));
  }
  const finished = clock();

  const updates: DeliveryUpdate[] = [];
  const attempts: DeliveryAttemptsTable[] = [];
  const dead: DeadLettersTable[] = [];
  const failedForGood: FailedDelivery[] = [];
  const retries = new Map<
    string,
    { channel: string; lane: LeasedJob['lane']; at: number; ids: string[] }
  >();
  const scheduleRetry = (d: DeliveriesTable, exactAt: number) => {
    // Rounded up to a quarter second, so retries that fall close together travel in one job.
    const at = Math.ceil(exactAt / RETRY_GRANULARITY_MS) * RETRY_GRANULARITY_MS;
    const lane = context.messages.get(d.message_id)!.priority;
    const key = `${d.channel}\u0000${lane}\u0000${at}`;
    const group = retries.get(key) ?? { channel: d.channel, lane, at, ids: [] };
    group.ids.push(d.id);
    retries.set(key, group);
  };
  for (const p of prepared) {
    const d = p.delivery;
    const attempt = Number(d.attempts) + 1;
    const result = p.error
      ? { provider: 'renderer', outcome: { ok: false as const, error: p.error } }
      : outcomes.get(d.id)!;
    const category = context.categories.get(context.messages.get(d.message_id)!.categoryKey);
    const maxAttempts = category?.maxAttempts ?? 5;
    if (
      !result.outcome.ok &&
      result.outcome.error.notAttempted &&
      finished - Number(d.created_at) < MAX_HOLD_BACK_MS
    ) {
      // A guard held it back (circuit open, rate limit): no provider saw it, no attempt used.
      const error = result.outcome.error;
      updates.push({
        id: d.id,
        attempts: Number(d.attempts),
        provider: result.provider,
        locale: p.outbound?.locale ?? null,
        status: 'queued',
        reason: null,
        lastError: `held back: ${error.message}`,
        providerMessageId: null,
      });
      deps.metrics.deliveryAttempts.inc({
        channel: d.channel,
        provider: result.provider,
        outcome: 'held-back',
      });
      scheduleRetry(d, finished + Math.max(error.retryAfterMs ?? 1000, 50));
      continue;
    }
    attempts.push({
      id: newId(finished),
      delivery_id: d.id,
      attempt,
      provider: result.provider,
      outcome: result.outcome.ok ? result.outcome.status : result.outcome.error.kind,
      error: result.outcome.ok ? null : result.outcome.error.message,
      started_at: started,
      finished_at: finished,
    });
    const base = {
      id: d.id,
      attempts: attempt,
      provider: result.provider,
      locale: p.outbound?.locale ?? null,
    };
    if (result.outcome.ok) {
      updates.push({
        ...base,
        status: result.outcome.status,
        reason: null,
        lastError: null,
        providerMessageId: result.outcome.providerMessageId,
      });
      deps.metrics.deliveryAttempts.inc({
        channel: d.channel,
        provider: result.provider,
        outcome: 'ok',
      });
      continue;
    }
    const error = result.outcome.error;
    deps.metrics.deliveryAttempts.inc({
      channel: d.channel,
      provider: result.provider,
      outcome: error.kind,
    });
    const decision = decideRetry(error, attempt, maxAttempts, finished, deps.retry);
    if (decision.kind === 'retry') {
      updates.push({
        ...base,
        status: 'queued',
        reason: null,
        lastError: error.message,
        providerMessageId: null,
      });
      scheduleRetry(d, decision.at);
    } else if (decision.kind === 'failed') {
      updates.push({
        ...base,
        status: 'failed',
        reason: p.error ? 'render-error' : 'provider-rejected',
        lastError: error.message,
        providerMessageId: null,
      });
      failedForGood.push({
        delivery: d,
        category,
        recipient: context.recipients.get(d.user_id),
      });
    } else {
      updates.push({
        ...base,
        status: 'dead',
        reason: 'max-attempts',
        lastError: error.message,
        providerMessageId: null,
      });
      dead.push({
        id: newId(finished),
        delivery_id: d.id,
        message_id: d.message_id,
        channel: d.channel,
        reason: `gave up after ${attempt} attempts: ${error.message}`,
        created_at: finished,
        redriven_at: null,
      });
    }
  }
  const { recorded, fallbackResult } = await inTransaction(db, async (tx) => {
    // Only outcomes that change a still-queued delivery count: another worker whose lease
    // this one outlived may have recorded the delivery already. The attempt itself happened
    // and is kept; its retry, dead letter, callback event and fallback would be wrong.
    const applied = await applyDeliveryUpdates(tx, updates, finished);
    const recorded = updates.filter((u) => applied.has(u.id));
    await insertAttempts(tx, attempts);
    await insertDeadLetters(
      tx,
      dead.filter((d) => applied.has(d.delivery_id)),
    );
    await deps.callbackEmitter?.deliveriesUpdated(tx, deliveries, recorded, finished, {
      sourceOf: (messageId) => context.messages.get(messageId)?.sourceId,
      externalIdOf: (userId) => context.recipients.get(userId)?.externalId,
    });
    // Channel fallback (wechat failed for good → sms), written with the failure it answers.
    const fallbacks = await fallbackDeliveries(
      tx,
      failedForGood.filter((f) => applied.has(f.delivery.id)),
      (channel) => deps.providers.providerFor(channel) !== null,
      finished,
    );
    const fallbackResult =
      fallbacks.length > 0
        ? await writeDeliveries(
            queue,
            tx,
            fallbacks,
            new Map([...context.messages].map(([id, m]) => [id, m.priority])),
            {
              day: quotaDay(finished, deps.timezone),
              now: finished,
              ownerOf: (messageId) =>
                quotaOwnerOf(context.sources.get(context.messages.get(messageId)!.sourceId)),
            },
            deps.callbackEmitter,
          )
        : null;
    // Retries of one channel and lane that were given the same time travel together in one job.
    const retryJobs: JobInput[] = [];
    for (const { channel, lane, at, ids } of retries.values()) {
      const kept = ids.filter((id) => applied.has(id));
      if (kept.length === 0) continue;
      retryJobs.push({
        topic: deliverTopic(channel),
        lane,
        payload: { deliveryIds: kept } satisfies DeliverJobPayload,
        availableAt: at,
        maxDeliveries: DELIVER_JOB_MAX_LEASES,
      });
    }
    if (retryJobs.length > 0) await queue.enqueue(retryJobs, tx);
    await queue.ack(jobs, tx);
    return { recorded, fallbackResult };
  });
  for (const d of fallbackResult?.created ?? []) {
    deps.metrics.deliveries.inc({ channel: d.channel, status: d.status });
  }
  for (const e of fallbackResult?.exceeded ?? []) {
    deps.metrics.quotaExceeded.inc({ source: e.source, channel: e.channel }, e.count);
  }

  const byId = new Map(deliveries.map((d) => [d.id, d]));
  for (const u of recorded) {
    const d = byId.get(u.id)!;
    if (u.status === 'queued') continue;
    deps.metrics.deliveries.inc({ channel: d.channel, status: u.status });
    if (u.status === 'sent' || u.status === 'delivered') {
      const m = context.messages.get(d.message_id)!;
      deps.metrics.deliveryLatency.observe(
        { channel: d.channel },
        Math.max(0, finished - m.sendAt) / 1000,
      );
    }
  }
  log.debug({ jobs: jobs.length, deliveries: deliveries.length }, 'delivery jobs done');
}

/**
 * Jobs on their last allowed lease: every earlier lease ended without an ack (the worker
 * crashed or hung on them). Their deliveries go to the dead letters, visibly and re-drivable,
 * instead of being tried again.
 */
async function buryPoisoned(deps: DeliveryWorkerDeps, jobs: readonly LeasedJob[]): Promise<void> {
  const now = deps.clock();
  const deliveries = await queuedDeliveries(
    deps.db,
    jobs.flatMap((job) => (job.payload as DeliverJobPayload).deliveryIds),
  );
  const why = `no worker finished this delivery in ${DELIVER_JOB_MAX_LEASES} tries (crash or hang)`;
  deps.log.error(
    { jobs: jobs.map((j) => j.id), deliveries: deliveries.length },
    'burying poisoned delivery jobs',
  );
  const buried: DeliveryUpdate[] = deliveries.map((d) => ({
    id: d.id,
    status: 'dead',
    reason: 'poison',
    attempts: Number(d.attempts),
    lastError: why,
    provider: d.provider,
    providerMessageId: null,
    locale: null,
  }));
  const applied = await inTransaction(deps.db, async (tx) => {
    const applied = await applyDeliveryUpdates(tx, buried, now);
    await deps.callbackEmitter?.deliveriesUpdated(
      tx,
      deliveries,
      buried.filter((u) => applied.has(u.id)),
      now,
    );
    await insertDeadLetters(
      tx,
      deliveries
        .filter((d) => applied.has(d.id))
        .map((d) => ({
          id: newId(now),
          delivery_id: d.id,
          message_id: d.message_id,
          channel: d.channel,
          reason: why,
          created_at: now,
          redriven_at: null,
        })),
    );
    await deps.queue.ack(jobs, tx);
    return applied;
  });
  for (const d of deliveries) {
    if (applied.has(d.id)) deps.metrics.deliveries.inc({ channel: d.channel, status: 'dead' });
  }
}

/**
 * How long guards may hold a delivery back without it using attempts (a provider outage that
 * keeps a circuit open): past a day, held-back tries count as failed attempts again.
 */
const MAX_HOLD_BACK_MS = 24 * 3600_000;

const RETRY_GRANULARITY_MS = 250;

/**
 * The provider that answered: a failover names the member that sent in its message id
 * (`member:id`), which becomes the delivery's provider and provider message id.
 */
function attribute(
  provider: ChannelProvider,
  outcome: SendOutcome,
): { provider: string; outcome: SendOutcome } {
  if (!(provider instanceof FailoverProvider) || !outcome.ok || !outcome.providerMessageId) {
    return { provider: provider.name, outcome };
  }
  const { provider: member, id } = splitProviderMessageId(outcome.providerMessageId);
  return { provider: member, outcome: { ...outcome, providerMessageId: id } };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Context {
  readonly messages: Map<string, StoredMessage>;
  readonly categories: Map<string, Category>;
  readonly sources: Map<string, Source>;
  readonly recipients: Map<string, Recipient>;
}

async function loadContext(
  db: Db,
  lookups: Lookups,
  deliveries: readonly DeliveriesTable[],
): Promise<Context> {
  const messages = await getMessages(
    db,
    deliveries.map((d) => d.message_id),
  );
  const categories = await lookups.categories(
    db,
    [...messages.values()].map((m) => m.categoryKey),
  );
  const sources = await lookups.sources(
    db,
    [...messages.values()].map((m) => m.sourceId),
  );
  const recipients = await recipientsByIds(db, [...new Set(deliveries.map((d) => d.user_id))]);
  return { messages, categories, sources, recipients };
}

async function prepare(
  deps: DeliveryWorkerDeps,
  delivery: DeliveriesTable,
  context: Context,
  templates: Map<string, StoredTemplate | null>,
): Promise<Prepared> {
  const fail = (message: string): Prepared => ({
    delivery,
    outbound: null,
    error: new DeliveryError(message, 'permanent'),
  });
  const message = context.messages.get(delivery.message_id);
  const recipient = context.recipients.get(delivery.user_id);
  if (!message || !recipient) return fail('message or recipient no longer exists');
  const source = context.sources.get(message.sourceId);
  const channel = delivery.channel;
  if (!isChannel(channel)) return fail(`unknown channel ${channel}`);
  const address = addressFor(channel as Channel, recipient);
  if (address === null) return fail(`recipient has no ${channel} address`);
  const chain = localeChain(recipient.locale, message.locale ?? undefined);
  const cacheKey = `${message.categoryKey}\u0000${channel}\u0000${chain.join(',')}`;
  if (!templates.has(cacheKey)) {
    templates.set(
      cacheKey,
      await (deps.lookups ?? directLookups).template(deps.db, message.categoryKey, channel, chain),
    );
  }
  const template = templates.get(cacheKey);
  if (!template)
    return fail(`no ${channel} template for ${message.categoryKey} in ${chain.join(', ')}`);
  const sourceView = { key: source?.key ?? '', name: source?.name ?? '' };
  try {
    const content = await deps.renderer.render(
      `${template.category}/${template.channel}/${template.locale} v${template.version}`,
      {
        subject: template.subject ?? undefined,
        title: template.title ?? undefined,
        body: template.body,
      },
      renderContext({
        data: message.data,
        recipient,
        source: sourceView,
        message: { id: message.id, category: message.categoryKey, locale: template.locale },
      }),
      { timezone: recipient.timezone, locale: template.locale },
    );
    const url = typeof message.data.url === 'string' ? message.data.url : undefined;
    const category = context.categories.get(message.categoryKey);
    const from = source?.emailFrom ?? category?.emailFrom ?? undefined;
    const replyTo = source?.emailReplyTo ?? category?.emailReplyTo ?? undefined;
    return {
      delivery,
      error: null,
      outbound: {
        deliveryId: delivery.id,
        messageId: message.id,
        channel,
        userId: recipient.id,
        recipient: { externalId: recipient.externalId, name: recipient.name },
        address,
        category: message.categoryKey,
        source: sourceView,
        locale: template.locale,
        ...(channel === 'email' && (from || replyTo)
          ? { sender: { ...(from ? { from } : {}), ...(replyTo ? { replyTo } : {}) } }
          : {}),
        content: { ...content, ...(url ? { url } : {}) },
      },
    };
  } catch (err) {
    if (err instanceof TemplateRenderError) return fail(`template error: ${err.message}`);
    throw err;
  }
}

export const ALL_DELIVERY_TOPICS = CHANNELS.map(deliverTopic);
