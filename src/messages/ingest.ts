import { createHash } from 'node:crypto';
import type { Db, Tx } from '../store/database.js';
import { inTransaction } from '../store/transaction.js';
import type { Queue } from '../queue/queue.js';
import type { Clock } from '../time/clock.js';
import type { MessagesTable } from '../store/schema.js';
import { newId } from '../store/ids.js';
import { Problem } from '../http/problem.js';
import type { Audience } from '../recipients/audience-types.js';
import { checkAudience } from '../recipients/audience.js';
import { filterConstrains } from '../recipients/users-store.js';
import { getCategoriesByKeys, type Category } from '../categories/categories-store.js';
import { insertMessages, type MessageStatus } from './messages-store.js';
import { idempotencyKeyOf, idempotencyRecords, IDEMPOTENCY_TTL_MS } from './idempotency-store.js';
import type { Quotas } from '../quotas/quotas.js';
import type { IngestQuotaGate, QuotaSubject } from '../quotas/ingest-quota-gate.js';
import type { CallbackEmitter } from '../callbacks/callback-emitter.js';

export interface SendBody {
  readonly category: string;
  readonly to: Audience;
  readonly data?: Record<string, unknown>;
  readonly channels?: readonly string[];
  readonly locale?: string;
  readonly sendAt?: string;
}

export interface SendRequest {
  readonly sourceId: string;
  /** For quota problems and metrics; defaults to the id. */
  readonly sourceKey?: string;
  /** The source's daily quotas (none → unlimited). */
  readonly quotas?: Quotas;
  readonly allowedCategories: readonly string[];
  readonly body: SendBody;
  readonly idempotencyKey: string | null;
  /**
   * Who sent it on the source's behalf (`actorOf`: an operator or the admin token), stored as
   * `messages.sent_by`; absent or null when the source sent it itself.
   */
  readonly sentBy?: string | null;
}

export interface Accepted {
  readonly status: number;
  readonly body: { id: string; status: MessageStatus } | Record<string, unknown>;
  /** True when this is the stored answer to an earlier request with the same key. */
  readonly replay: boolean;
}

export const FANOUT_TOPIC = 'fanout';

/** Stable hash of a request body: same JSON value → same hash, whatever the key order. */
export function requestHash(body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(body)))
    .digest('hex');
}

interface Pending {
  readonly request: SendRequest;
  readonly hash: string;
  resolve(result: Accepted): void;
  reject(err: unknown): void;
}

/**
 * Accepts messages with group commit: requests that arrive while a commit is running wait
 * for the next one, and each batch is validated and written in ONE transaction (messages,
 * idempotency records and fan-out jobs together), so every 202 follows a commit that holds its
 * message while concurrent requests share the cost of that commit.
 */
export class Ingest {
  private pending: Pending[] = [];
  private running = false;

  constructor(
    private readonly db: Db,
    private readonly queue: Queue,
    private readonly clock: Clock,
    private readonly onAccepted: (count: number) => void = () => {},
    private readonly quotaGate: IngestQuotaGate | null = null,
    /** `message.accepted` status callbacks, committed with the messages. */
    private readonly callbacks: CallbackEmitter | null = null,
  ) {}

  submit(request: SendRequest): Promise<Accepted> {
    return new Promise((resolve, reject) => {
      this.pending.push({ request, hash: requestHash(request.body), resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, 1000);
      try {
        await this.process(batch);
      } catch (err) {
        // The batch's transaction failed as a whole (disk full, lock not had in time …):
        // nothing of it was written, and the producer may safely retry.
        const problem = new Problem(
          'unavailable',
          'Messages cannot be stored right now; retry shortly',
          {},
          { 'Retry-After': '1' },
        );
        problem.cause = err;
        for (const p of batch) p.reject(problem);
      }
    }
    this.running = false;
  }

  private async process(batch: Pending[]): Promise<void> {
    const now = this.clock();
    const outcomes = new Map<Pending, Accepted | Problem>();
    let accepted = 0;
    await inTransaction(this.db, async (tx) => {
      // 1. Idempotency: answer replays and conflicts before any validation (Stripe semantics).
      const keyed = batch.filter((p) => p.request.idempotencyKey !== null);
      const seen = new Map<string, Pending>();
      const toClaim: Pending[] = [];
      for (const p of keyed) {
        const id = `${p.request.sourceId}\u0000${p.request.idempotencyKey}`;
        const first = seen.get(id);
        if (first) {
          outcomes.set(p, first.hash === p.hash ? inProgress() : keyReused());
        } else {
          seen.set(id, p);
          toClaim.push(p);
        }
      }
      const existing = await idempotencyRecords.lookup(
        tx,
        toClaim.map((p) => ({ sourceId: p.request.sourceId, key: p.request.idempotencyKey! })),
        now,
      );
      for (const p of toClaim) {
        const prior = existing.get(`${p.request.sourceId}\u0000${p.request.idempotencyKey}`);
        if (!prior) continue;
        if (prior.requestHash !== p.hash) outcomes.set(p, keyReused());
        else if (prior.state !== 'done') outcomes.set(p, inProgress());
        else
          outcomes.set(p, { status: prior.responseStatus, body: prior.responseBody, replay: true });
      }

      // 2. Validation of everything still open.
      const open = batch.filter((p) => !outcomes.has(p));
      const categories = new Map(
        (await getCategoriesByKeys(tx, [...new Set(open.map((p) => p.request.body.category))])).map(
          (c) => [c.key, c],
        ),
      );
      const quotaSubject = (r: SendRequest): QuotaSubject => ({
        sourceId: r.sourceId,
        sourceKey: r.sourceKey ?? r.sourceId,
        quotas: r.quotas ?? {},
      });
      const quotaUsage = this.quotaGate
        ? await this.quotaGate.load(
            tx,
            open.map((p) => quotaSubject(p.request)),
            now,
          )
        : null;
      const rows: MessagesTable[] = [];
      const jobs: {
        topic: string;
        lane: Category['priority'];
        payload: unknown;
        availableAt: number;
      }[] = [];
      const records: {
        sourceId: string;
        key: string;
        hash: string;
        status: number;
        body: unknown;
        pending: Pending;
        messageId: string;
      }[] = [];
      for (const p of open) {
        const problem = await this.validate(tx, p.request, categories, now);
        if (problem) {
          outcomes.set(p, problem);
          continue;
        }
        const { body, sourceId, idempotencyKey } = p.request;
        const category = categories.get(body.category)!;
        const sendAt = body.sendAt ? Date.parse(body.sendAt) : now;
        const overQuota = quotaUsage
          ? this.quotaGate!.check(
              quotaUsage,
              quotaSubject(p.request),
              body.channels ?? category.defaultChannels,
              sendAt,
            )
          : null;
        if (overQuota) {
          outcomes.set(p, overQuota);
          continue;
        }
        const status: MessageStatus = sendAt > now ? 'scheduled' : 'accepted';
        const id = newId(now);
        rows.push({
          id,
          source_id: sourceId,
          category_key: category.key,
          priority: category.priority,
          audience: JSON.stringify(body.to),
          data: JSON.stringify(body.data ?? {}),
          channels: body.channels ? JSON.stringify([...new Set(body.channels)]) : null,
          locale: body.locale ?? null,
          send_at: Math.max(sendAt, now),
          status,
          fanout_cursor: null,
          recipient_count: 0,
          idempotency_key: idempotencyKey,
          created_at: now,
          updated_at: now,
          sent_by: p.request.sentBy ?? null,
        });
        jobs.push({
          topic: FANOUT_TOPIC,
          lane: category.priority,
          payload: { messageId: id },
          availableAt: Math.max(sendAt, now),
        });
        const result: Accepted = { status: 202, body: { id, status }, replay: false };
        if (idempotencyKey !== null) {
          records.push({
            sourceId,
            key: idempotencyKey,
            hash: p.hash,
            status: 202,
            body: result.body,
            pending: p,
            messageId: id,
          });
        }
        outcomes.set(p, result);
        accepted++;
      }

      // 3. Claim the idempotency keys, then one write of everything accepted in this batch.
      // On PostgreSQL a request with the same key may have committed in another process since
      // the lookup (with SQLite's single writer it cannot): its record stays, and this batch
      // answers that request's outcome instead of accepting the message a second time.
      const claimed = await idempotencyRecords.store(tx, records, now, now + IDEMPOTENCY_TTL_MS);
      const lost = records.filter((r) => !claimed.has(idempotencyKeyOf(r.sourceId, r.key)));
      if (lost.length > 0) {
        const winners = await idempotencyRecords.lookup(tx, lost, now);
        const dropped = new Set<string>();
        for (const r of lost) {
          const prior = winners.get(idempotencyKeyOf(r.sourceId, r.key));
          outcomes.set(
            r.pending,
            !prior || prior.state !== 'done'
              ? inProgress()
              : prior.requestHash !== r.hash
                ? keyReused()
                : { status: prior.responseStatus, body: prior.responseBody, replay: true },
          );
          dropped.add(r.messageId);
          accepted--;
        }
        const keep = <T>(items: T[], idOf: (item: T) => string) => {
          const kept = items.filter((item) => !dropped.has(idOf(item)));
          items.splice(0, items.length, ...kept);
        };
        keep(rows, (r) => r.id);
        keep(jobs, (j) => (j.payload as { messageId: string }).messageId);
      }
      await insertMessages(tx, rows);
      await this.callbacks?.messagesAccepted(tx, rows);
      if (jobs.length > 0) await this.queue.enqueue(jobs, tx);
    });
    if (accepted > 0) this.onAccepted(accepted);
    for (const p of batch) {
      const outcome = outcomes.get(p)!;
      if (outcome instanceof Problem) p.reject(outcome);
      else p.resolve(outcome);
    }
  }

  private async validate(
    tx: Tx,
    request: SendRequest,
    categories: Map<string, Category>,
    now: number,
  ): Promise<Problem | null> {
    const { body } = request;
    const category = categories.get(body.category);
    if (!category) {
      return new Problem('unknown-category', `There is no category "${body.category}"`);
    }
    if (!request.allowedCategories.includes(category.key)) {
      return new Problem('category-not-allowed', `This source may not send "${category.key}"`);
    }
    if (body.sendAt !== undefined) {
      const at = Date.parse(body.sendAt);
      if (Number.isNaN(at))
        return new Problem('validation-failed', 'sendAt must be an ISO 8601 date-time');
      if (at > now + 366 * 24 * 3600 * 1000) {
        return new Problem('validation-failed', 'sendAt may be at most one year ahead');
      }
    }
    const to = body.to;
    if (!to.all && !to.users?.length && !to.groups?.length && !hasFilter(to)) {
      return new Problem(
        'validation-failed',
        'to must select at least one recipient (users, groups, filter or all)',
      );
    }
    const { unknownUsers, unknownGroups } = await checkAudience(tx, to);
    if (unknownUsers.length > 0 || unknownGroups.length > 0) {
      const parts = [
        unknownUsers.length ? `users ${unknownUsers.slice(0, 10).join(', ')}` : '',
        unknownGroups.length ? `groups ${unknownGroups.slice(0, 10).join(', ')}` : '',
      ].filter(Boolean);
      return new Problem('unknown-recipients', `Unknown ${parts.join(' and ')}`, {
        unknownUsers,
        unknownGroups,
      });
    }
    return null;
  }
}

/** A filter that constrains nothing (e.g. `orgPrefixes: []`) selects nobody: not a part. */
function hasFilter(to: Audience): boolean {
  return to.filter !== undefined && filterConstrains(to.filter);
}

const inProgress = () =>
  new Problem(
    'idempotency-in-progress',
    'Retry after the first request has finished',
    {},
    { 'Retry-After': '1' },
  );
const keyReused = () =>
  new Problem('idempotency-key-reused', 'Use a new Idempotency-Key for a different request body');
