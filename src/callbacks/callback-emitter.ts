import type { Tx } from '../store/database.js';
import type { DeliveriesTable, InboxItemsTable, MessagesTable } from '../store/schema.js';
import type { JobInput, Queue } from '../queue/queue.js';
import type { DeliveryUpdate } from '../deliveries/deliveries-store.js';
import { newId } from '../store/ids.js';
import { QUOTA_EXCEEDED_REASON } from '../quotas/enforce-quotas.js';
import {
  CALLBACK_TOPIC,
  type CallbackEvent,
  type CallbackEventData,
  type CallbackEventType,
  type CallbackJobPayload,
} from './callback-events.js';
import { wants, type CallbackSubscriptions } from './callback-subscriptions.js';

/** Events per callback job: bounds the work (and the retry unit) of one lease. */
export const EVENTS_PER_JOB = 100;
/** Leases a callback job may take without an ack (a worker crashing on it) before it is dead. */
export const CALLBACK_JOB_MAX_LEASES = 5;
const MAX_ERROR_CHARS = 500;

/** Optional knowledge the caller already has, saving the emitter a query. */
export interface EmitHints {
  readonly sourceOf?: (messageId: string) => string | undefined;
  readonly externalIdOf?: (userId: string) => string | undefined;
}

interface Draft {
  readonly type: CallbackEventType;
  readonly at: number;
  readonly messageId: string;
  readonly userId?: string;
  readonly data: Omit<CallbackEventData, 'recipient' | 'messageId' | 'userId'>;
}

const DELIVERY_EVENT: Partial<Record<DeliveriesTable['status'], CallbackEventType>> = {
  sent: 'delivery.sent',
  delivered: 'delivery.delivered',
  failed: 'delivery.failed',
  dead: 'delivery.failed',
  suppressed: 'delivery.suppressed',
};

/**
 * Turns state changes into callback jobs inside the transaction that records the changes, so
 * an event exists iff its change committed (at-least-once, never for a rolled-back state).
 * Events of one source are batched into jobs of up to EVENTS_PER_JOB. When no source has a
 * callback for the event types at hand, a call costs a cached map lookup and nothing else.
 */
export class CallbackEmitter {
  constructor(
    private readonly queue: Queue,
    readonly subscriptions: CallbackSubscriptions,
  ) {}

  /** `message.accepted` for messages written by ingest (status accepted or scheduled). */
  async messagesAccepted(
    tx: Tx,
    messages: readonly Pick<
      MessagesTable,
      'id' | 'source_id' | 'status' | 'category_key' | 'created_at'
    >[],
  ): Promise<void> {
    const sources = new Map(messages.map((m) => [m.id, m.source_id]));
    await this.emit(
      tx,
      messages.map((m) => ({
        type: 'message.accepted',
        at: m.created_at,
        messageId: m.id,
        data: { status: m.status, category: m.category_key },
      })),
      { sourceOf: (id) => sources.get(id) },
    );
  }

  /**
   * `delivery.suppressed` for the suppressed ones among newly created deliveries. `created`
   * carries each delivery's status as committed, which may differ from the planned row's: a
   * queued delivery over its source's daily quota is suppressed `quota-exceeded` after insert.
   */
  async deliveriesCreated(
    tx: Tx,
    rows: readonly DeliveriesTable[],
    created: readonly { readonly id: string; readonly status: string }[],
    hints: EmitHints = {},
  ): Promise<void> {
    if (!(await this.anyone(tx))) return;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const drafts: Draft[] = [];
    for (const d of created) {
      const r = byId.get(d.id);
      if (d.status !== 'suppressed' || !r) continue;
      const reason = r.status === 'suppressed' ? r.reason : QUOTA_EXCEEDED_REASON;
      drafts.push({
        type: 'delivery.suppressed',
        at: r.created_at,
        messageId: r.message_id,
        userId: r.user_id,
        data: {
          deliveryId: r.id,
          channel: r.channel,
          status: 'suppressed',
          ...(reason !== null ? { reason } : {}),
        },
      });
    }
    await this.emit(tx, drafts, hints);
  }

  /** `delivery.sent/delivered/failed/suppressed` for outcomes recorded by the delivery worker. */
  async deliveriesUpdated(
    tx: Tx,
    deliveries: readonly DeliveriesTable[],
    updates: readonly DeliveryUpdate[],
    now: number,
    hints: EmitHints = {},
  ): Promise<void> {
    const subs = await this.subscriptions.current(tx);
    if (subs.size === 0) return;
    const byId = new Map(deliveries.map((d) => [d.id, d]));
    const drafts: Draft[] = [];
    for (const u of updates) {
      const type = DELIVERY_EVENT[u.status];
      const d = byId.get(u.id);
      if (!type || !d) continue;
      // A broadcast of a source without a callback costs a lookup per delivery, nothing more.
      const source = hints.sourceOf?.(d.message_id);
      if (source !== undefined && !wants(subs, source, type)) continue;
      drafts.push({
        type,
        at: now,
        messageId: d.message_id,
        userId: d.user_id,
        data: {
          deliveryId: d.id,
          channel: d.channel,
          status: u.status,
          attempts: u.attempts,
          ...(u.reason !== null ? { reason: u.reason } : {}),
          ...(u.provider !== null ? { provider: u.provider } : {}),
          ...(u.providerMessageId !== null ? { providerMessageId: u.providerMessageId } : {}),
          ...(u.lastError !== null && type === 'delivery.failed'
            ? { error: u.lastError.slice(0, MAX_ERROR_CHARS) }
            : {}),
        },
      });
    }
    await this.emit(tx, drafts, hints);
  }

  /** `delivery.read` for inbox items that just became read. */
  async inboxRead(
    tx: Tx,
    items: readonly Pick<InboxItemsTable, 'message_id' | 'delivery_id' | 'user_id' | 'read_at'>[],
    now: number,
  ): Promise<void> {
    await this.emit(
      tx,
      items.map((i) => ({
        type: 'delivery.read',
        at: i.read_at ?? now,
        messageId: i.message_id,
        userId: i.user_id,
        data: { deliveryId: i.delivery_id, channel: 'in_app', status: 'read' },
      })),
      {},
    );
  }

  /** Whether any source has a callback (cached): lets callers skip building drafts. */
  private async anyone(tx: Tx): Promise<boolean> {
    return (await this.subscriptions.current(tx)).size > 0;
  }

  private async emit(tx: Tx, drafts: readonly Draft[], hints: EmitHints): Promise<void> {
    if (drafts.length === 0) return;
    const subs = await this.subscriptions.current(tx);
    if (subs.size === 0) return;
    const wanted = new Set<CallbackEventType>();
    for (const types of subs.values()) {
      for (const d of drafts) if (types === null || types.has(d.type)) wanted.add(d.type);
    }
    const candidates = drafts.filter((d) => wanted.has(d.type));
    if (candidates.length === 0) return;

    const sourceOf = await this.resolveSources(tx, candidates, hints);
    const kept = candidates.filter((d) => {
      const source = sourceOf.get(d.messageId);
      return source !== undefined && wants(subs, source, d.type);
    });
    if (kept.length === 0) return;
    const externalIdOf = await this.resolveExternalIds(tx, kept, hints);

    const perSource = new Map<string, CallbackEvent[]>();
    for (const d of kept) {
      const source = sourceOf.get(d.messageId)!;
      const externalId = d.userId === undefined ? undefined : externalIdOf.get(d.userId);
      const event: CallbackEvent = {
        id: newId(d.at),
        type: d.type,
        timestamp: new Date(d.at).toISOString(),
        data: {
          messageId: d.messageId,
          ...(d.userId !== undefined ? { userId: d.userId } : {}),
          ...(externalId !== undefined ? { recipient: { externalId } } : {}),
          ...d.data,
        },
      };
      const list = perSource.get(source) ?? [];
      list.push(event);
      perSource.set(source, list);
    }
    const jobs: JobInput[] = [];
    for (const [sourceId, events] of perSource) {
      for (let i = 0; i < events.length; i += EVENTS_PER_JOB) {
        const payload: CallbackJobPayload = {
          sourceId,
          attempt: 0,
          events: events.slice(i, i + EVENTS_PER_JOB),
        };
        jobs.push({
          topic: CALLBACK_TOPIC,
          lane: 'normal',
          payload,
          maxDeliveries: CALLBACK_JOB_MAX_LEASES,
        });
      }
    }
    await this.queue.enqueue(jobs, tx);
  }

  private async resolveSources(
    tx: Tx,
    drafts: readonly Draft[],
    hints: EmitHints,
  ): Promise<Map<string, string>> {
    return lookup(
      drafts.map((d) => d.messageId),
      hints.sourceOf,
      async (ids) =>
        (
          await tx
            .selectFrom('messages')
            .select(['id', 'source_id'])
            .where('id', 'in', ids)
            .execute()
        ).map((r) => [r.id, r.source_id] as const),
    );
  }

  private async resolveExternalIds(
    tx: Tx,
    drafts: readonly Draft[],
    hints: EmitHints,
  ): Promise<Map<string, string>> {
    return lookup(
      drafts.flatMap((d) => (d.userId === undefined ? [] : [d.userId])),
      hints.externalIdOf,
      async (ids) =>
        (
          await tx
            .selectFrom('users')
            .select(['id', 'external_id'])
            .where('id', 'in', ids)
            .execute()
        ).map((r) => [r.id, r.external_id] as const),
    );
  }
}

/** The value of each key: the caller's hint when it has one, else read by `load`, 500 at a time. */
async function lookup(
  keys: readonly string[],
  hint: ((key: string) => string | undefined) | undefined,
  load: (keys: string[]) => Promise<readonly (readonly [string, string])[]>,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const missing = new Set<string>();
  for (const key of keys) {
    if (found.has(key) || missing.has(key)) continue;
    const hinted = hint?.(key);
    if (hinted !== undefined) found.set(key, hinted);
    else missing.add(key);
  }
  const ids = [...missing];
  for (let i = 0; i < ids.length; i += 500) {
    for (const [key, value] of await load(ids.slice(i, i + 500))) found.set(key, value);
  }
  return found;
}
