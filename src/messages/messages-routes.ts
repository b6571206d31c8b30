import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem, notFound } from '../http/problem.js';
import {
  ActorSchema,
  ChannelSchema,
  Page,
  ProblemSchema,
  problemResponses,
} from '../http/schemas.js';
import type { Principal } from '../http/server-types.js';
import {
  countDeliveriesOf,
  getMessage,
  listMessages,
  type MessageViewStatus,
  type StoredMessage,
} from './messages-store.js';
import { attemptsOf, getDelivery, listDeliveries } from '../deliveries/deliveries-store.js';
import { getSourceByKey, listSources } from '../sources/sources-store.js';
import type { Ingest, SendBody } from './ingest.js';
import { SendBodySchema } from './send-body.js';
import { FINAL_STATUSES } from '../deliveries/deliveries-store.js';
import { actorOf, actorView } from '../auth/operators.js';
import type { DeliveryAttemptsTable } from '../store/schema.js';

/**
 * `POST /v1/messages` takes the body producers send (the AMQP ingress takes exactly
 * `SendBodySchema`) plus `source`: the admin and operators (the console) send on behalf of a
 * source and name it; a source API key always sends as its own source.
 */
const HttpSendBodySchema = Type.Object(
  {
    ...SendBodySchema.properties,
    source: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          "The source to send as (its key, e.g. `jwc`): required for the admin token and operators' sessions, who send on a source's behalf (its categories and quotas apply); a source API key may omit it or name its own source",
      }),
    ),
  },
  { additionalProperties: false },
);

const MESSAGE_STATUSES: readonly MessageViewStatus[] = [
  'scheduled',
  'accepted',
  'fanning_out',
  'dispatched',
  'completed',
];

const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  provider: Type.String(),
  outcome: Type.String({ description: 'sent | delivered | transient | permanent' }),
  error: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.String(),
  finishedAt: Type.String(),
});

const AcceptedSchema = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('accepted'), Type.Literal('scheduled')]),
});

const MessageSchema = Type.Object({
  id: Type.String(),
  source: Type.String(),
  category: Type.String(),
  priority: Type.String(),
  status: Type.String({
    description: 'scheduled | accepted | fanning_out | dispatched | completed',
  }),
  to: Type.Unknown(),
  data: Type.Unknown(),
  channels: Type.Union([Type.Array(Type.String()), Type.Null()]),
  locale: Type.Union([Type.String(), Type.Null()]),
  sendAt: Type.String(),
  createdAt: Type.String(),
  recipients: Type.Integer(),
  sentBy: Type.Union(ActorSchema.anyOf, {
    description:
      "Who sent it on the source's behalf from the console: an operator (their external id) or the admin token; null when the source sent it itself",
  }),
  counts: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer()), {
    description: 'Deliveries per channel × status',
  }),
  totals: Type.Record(Type.String(), Type.Integer(), { description: 'Deliveries per status' }),
});

const DeliverySchema = Type.Object({
  id: Type.String(),
  recipient: Type.Object({ externalId: Type.String(), name: Type.String() }),
  channel: Type.String(),
  status: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  locale: Type.String(),
  attempts: Type.Integer(),
  lastError: Type.Union([Type.String(), Type.Null()]),
  provider: Type.Union([Type.String(), Type.Null()]),
  providerMessageId: Type.Union([Type.String(), Type.Null()]),
  fallbackFrom: Type.Union([Type.String(), Type.Null()], {
    description: 'The channel this delivery replaces (category channel fallback), else null',
  }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  finalAt: Type.Union([Type.String(), Type.Null()]),
  attemptLog: Type.Optional(
    Type.Array(AttemptSchema, { description: 'With `attempts=true`: every attempt, oldest first' }),
  ),
});

const iso = (ms: number) => new Date(ms).toISOString();

const attemptView = (a: DeliveryAttemptsTable) => ({
  attempt: Number(a.attempt),
  provider: a.provider,
  outcome: a.outcome,
  error: a.error,
  startedAt: iso(Number(a.started_at)),
  finishedAt: iso(Number(a.finished_at)),
});

/** A date-time query value as epoch ms, or a 400 naming the parameter. */
function instant(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new Problem('validation-failed', `querystring/${name} must be an ISO 8601 date-time`, {
      errors: [{ path: `querystring/${name}`, message: 'must be an ISO 8601 date-time' }],
    });
  }
  return ms;
}

export interface MessagesRoutesDeps {
  readonly db: Db;
  readonly guards: AuthGuards;
  readonly ingest: Ingest;
}

export function messagesRoutes(app: Server, deps: MessagesRoutesDeps): void {
  const { db, guards } = deps;

  /** A source sees only its own messages (404 otherwise: no hint that the id exists); admins see all. */
  async function visibleMessage(principal: Principal, id: string): Promise<StoredMessage> {
    const message = await getMessage(db, id);
    if (!message || (principal.kind === 'source' && message.sourceId !== principal.sourceId)) {
      throw notFound(`Message ${id}`);
    }
    return message;
  }

  type Counts = readonly { channel: string; status: string; count: number }[];

  function view(message: StoredMessage, sourceKey: string, deliveryCounts: Counts) {
    const counts: Record<string, Record<string, number>> = {};
    const totals: Record<string, number> = {};
    let pending = 0;
    for (const c of deliveryCounts) {
      (counts[c.channel] ??= {})[c.status] = c.count;
      totals[c.status] = (totals[c.status] ?? 0) + c.count;
      if (!FINAL_STATUSES.includes(c.status as never)) pending += c.count;
    }
    return {
      id: message.id,
      source: sourceKey,
      category: message.categoryKey,
      priority: message.priority,
      status: message.status === 'dispatched' && pending === 0 ? 'completed' : message.status,
      to: message.audience,
      data: message.data,
      channels: message.channels,
      locale: message.locale,
      sendAt: iso(message.sendAt),
      createdAt: iso(message.createdAt),
      recipients: message.recipientCount,
      sentBy: actorView(message.sentBy),
      counts,
      totals,
    };
  }

  /** Views of several messages with one query for their counts and one for the sources. */
  async function views(messages: readonly StoredMessage[]) {
    const counts = await countDeliveriesOf(
      db,
      messages.map((m) => m.id),
    );
    const keys = new Map((await listSources(db)).map((s) => [s.id, s.key]));
    return messages.map((m) => view(m, keys.get(m.sourceId) ?? '', counts.get(m.id) ?? []));
  }

  /**
   * Whom a send is for: a source API key sends as its own source; the admin and operators
   * name the source in `source` and send within its categories and quotas.
   */
  async function sender(principal: Principal | null, named: string | undefined) {
    if (principal?.kind === 'source') {
      if (named !== undefined && named !== principal.sourceKey) {
        throw new Problem('forbidden', 'A source API key sends as its own source only');
      }
      return {
        sourceId: principal.sourceId,
        sourceKey: principal.sourceKey,
        quotas: principal.quotas,
        allowedCategories: principal.categories,
      };
    }
    if (principal?.kind !== 'admin') throw new Problem('forbidden');
    if (named === undefined) {
      throw new Problem(
        'validation-failed',
        'body/source is required when the admin or an operator sends: the source to send as',
        { errors: [{ path: 'body/source', message: 'is required for the admin and operators' }] },
      );
    }
    const source = await getSourceByKey(db, named);
    if (!source) throw new Problem('unknown-source', `There is no source "${named}"`);
    return {
      sourceId: source.id,
      sourceKey: source.key,
      quotas: source.quotas,
      allowedCategories: source.categories,
    };
  }

  app.post(
    '/v1/messages',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['messages'],
        summary: 'Send a message',
        description:
          'Accepts a message for fan-out and delivery. With an `Idempotency-Key` header, a retry with the same body within 24 h gets the first answer again (`Idempotency-Replay: true`); a different body gets 422; a concurrent duplicate gets 409. A source API key sends as its source; the admin token or an operator session sends on behalf of the source named in `source` (422 `unknown-source` if there is none), and the message records who (`sentBy`).',
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        }),
        body: HttpSendBodySchema,
        response: {
          202: AcceptedSchema,
          ...problemResponses,
          409: ProblemSchema,
          413: ProblemSchema,
          422: ProblemSchema,
          429: {
            ...ProblemSchema,
            description:
              "`quota-exceeded`: the source's daily quota on one of the message's channels is used up (`Retry-After`: until the campus midnight)",
          },
        },
      },
    },
    async (request, reply) => {
      const { source: named, ...send } = request.body;
      const result = await deps.ingest.submit({
        ...(await sender(request.principal, named)),
        // Without `source`: the same request hash whoever sent it, so idempotency keys (per
        // source) behave alike for the source's own key and the console.
        body: send as SendBody,
        idempotencyKey: request.headers['idempotency-key'] ?? null,
        sentBy: actorOf(request.principal),
      });
      if (result.replay) reply.header('Idempotency-Replay', 'true');
      const body = result.body as { id: string };
      reply.header('Location', `/v1/messages/${body.id}`);
      return reply.code(result.status as 202).send(result.body as never);
    },
  );

  app.get(
    '/v1/messages',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['messages'],
        summary: 'Search messages (a source sees its own), newest first',
        description:
          'Every given filter must hold. `q` matches the message id or Idempotency-Key exactly, or any part of the data (any case).',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          cursor: Type.Optional(Type.String({ description: '`nextCursor` of the previous page' })),
          category: Type.Optional(Type.String()),
          source: Type.Optional(
            Type.String({ description: 'Source key (a source sees only its own anyway)' }),
          ),
          status: Type.Optional(
            Type.Union(
              MESSAGE_STATUSES.map((st) => Type.Literal(st)),
              { description: 'As shown: `completed` = dispatched with nothing queued' },
            ),
          ),
          since: Type.Optional(
            Type.String({ format: 'date-time', description: 'Accepted at or after' }),
          ),
          until: Type.Optional(
            Type.String({ format: 'date-time', description: 'Accepted before' }),
          ),
          q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        }),
        response: { 200: Page(MessageSchema), ...problemResponses },
      },
    },
    async (request) => {
      const p = request.principal!;
      const { limit, cursor, category, source, status, q } = request.query;
      const since = instant(request.query.since, 'since');
      const until = instant(request.query.until, 'until');
      let sourceId: string | undefined;
      if (p.kind === 'source') {
        // Another source's key: nothing, as for another source's message id.
        if (source !== undefined && source !== p.sourceKey) return { items: [], nextCursor: null };
        sourceId = p.sourceId;
      } else if (source !== undefined) {
        const s = await getSourceByKey(db, source);
        if (!s) return { items: [], nextCursor: null };
        sourceId = s.id;
      }
      const rows = await listMessages(db, {
        limit: limit + 1,
        before: cursor,
        sourceId,
        category,
        status,
        since,
        until,
        text: q,
      });
      const page = rows.slice(0, limit);
      return {
        items: await views(page),
        nextCursor: rows.length > limit ? page[page.length - 1]!.id : null,
      };
    },
  );

  app.get(
    '/v1/messages/:id',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['messages'],
        summary: 'A message with its delivery counts per channel × status',
        params: Type.Object({ id: Type.String() }),
        response: { 200: MessageSchema, ...problemResponses },
      },
    },
    async (request) =>
      (await views([await visibleMessage(request.principal!, request.params.id)]))[0]!,
  );

  app.get(
    '/v1/messages/:id/deliveries',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['messages'],
        summary: 'The deliveries of a message, one per recipient × channel',
        params: Type.Object({ id: Type.String() }),
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
          cursor: Type.Optional(Type.String()),
          channel: Type.Optional(ChannelSchema),
          status: Type.Optional(Type.String()),
          recipient: Type.Optional(Type.String({ description: 'External id' })),
          q: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 100,
              description: "Any part of the recipient's name or external id (any case)",
            }),
          ),
          attempts: Type.Boolean({
            default: false,
            description: "Include each delivery's `attemptLog`",
          }),
        }),
        response: { 200: Page(DeliverySchema), ...problemResponses },
      },
    },
    async (request) => {
      const message = await visibleMessage(request.principal!, request.params.id);
      const { limit, cursor, channel, status, recipient, q, attempts } = request.query;
      const rows = await listDeliveries(db, message.id, {
        limit: limit + 1,
        ...(cursor ? { after: cursor } : {}),
        ...(channel ? { channel } : {}),
        ...(status ? { status } : {}),
        ...(recipient ? { recipient } : {}),
        ...(q ? { recipientText: q } : {}),
      });
      const page = rows.slice(0, limit);
      const log = new Map<string, ReturnType<typeof attemptView>[]>();
      if (attempts) {
        for (const a of await attemptsOf(
          db,
          page.map((d) => d.id),
        )) {
          const list = log.get(a.delivery_id) ?? [];
          list.push(attemptView(a));
          log.set(a.delivery_id, list);
        }
      }
      return {
        items: page.map((d) => ({
          ...d,
          createdAt: iso(d.createdAt),
          updatedAt: iso(d.updatedAt),
          finalAt: d.finalAt === null ? null : iso(d.finalAt),
          ...(attempts ? { attemptLog: log.get(d.id) ?? [] } : {}),
        })),
        nextCursor: rows.length > limit ? page[page.length - 1]!.id : null,
      };
    },
  );

  app.get(
    '/v1/messages/:id/deliveries/:deliveryId',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['messages'],
        summary: 'One delivery with its timeline of attempts',
        params: Type.Object({ id: Type.String(), deliveryId: Type.String() }),
        response: {
          200: Type.Intersect([
            DeliverySchema,
            Type.Object({ attemptLog: Type.Array(AttemptSchema) }),
          ]),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const message = await visibleMessage(request.principal!, request.params.id);
      const d = await getDelivery(db, message.id, request.params.deliveryId);
      if (!d) throw notFound(`Delivery ${request.params.deliveryId}`);
      const attempts = await attemptsOf(db, [d.id]);
      return {
        ...d,
        createdAt: iso(d.createdAt),
        updatedAt: iso(d.updatedAt),
        finalAt: d.finalAt === null ? null : iso(d.finalAt),
        attemptLog: attempts.map(attemptView),
      };
    },
  );
}
