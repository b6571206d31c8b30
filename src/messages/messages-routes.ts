import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem, notFound } from '../http/problem.js';
import { ChannelSchema, Page, ProblemSchema, problemResponses } from '../http/schemas.js';
import { countDeliveries, getMessage, listMessages, type StoredMessage } from './messages-store.js';
import { attemptsOf, getDelivery, listDeliveries } from '../deliveries/deliveries-store.js';
import { getSourceById } from '../sources/sources-store.js';
import type { Ingest } from './ingest.js';
import { SendBodySchema } from './send-body.js';
import { FINAL_STATUSES } from '../deliveries/deliveries-store.js';

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
});

const iso = (ms: number) => new Date(ms).toISOString();

export interface MessagesRoutesDeps {
  readonly db: Db;
  readonly guards: AuthGuards;
  readonly ingest: Ingest;
}

export function messagesRoutes(app: Server, deps: MessagesRoutesDeps): void {
  const { db, guards } = deps;

  /** A source sees only its own messages (404 otherwise: no hint that the id exists); admins see all. */
  async function visibleMessage(
    principal: NonNullable<import('../http/server-types.js').Principal>,
    id: string,
  ): Promise<StoredMessage> {
    const message = await getMessage(db, id);
    if (!message || (principal.kind === 'source' && message.sourceId !== principal.sourceId)) {
      throw notFound(`Message ${id}`);
    }
    return message;
  }

  async function view(message: StoredMessage) {
    const counts: Record<string, Record<string, number>> = {};
    const totals: Record<string, number> = {};
    let pending = 0;
    for (const c of await countDeliveries(db, message.id)) {
      (counts[c.channel] ??= {})[c.status] = c.count;
      totals[c.status] = (totals[c.status] ?? 0) + c.count;
      if (!FINAL_STATUSES.includes(c.status as never)) pending += c.count;
    }
    const source = await getSourceById(db, message.sourceId);
    return {
      id: message.id,
      source: source?.key ?? '',
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
      counts,
      totals,
    };
  }

  app.post(
    '/v1/messages',
    {
      onRequest: guards.source,
      schema: {
        tags: ['messages'],
        summary: 'Send a message',
        description:
          'Accepts a message for fan-out and delivery. With an `Idempotency-Key` header, a retry with the same body within 24 h gets the first answer again (`Idempotency-Replay: true`); a different body gets 422; a concurrent duplicate gets 409.',
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        }),
        body: SendBodySchema,
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
      const principal = request.principal;
      if (principal?.kind !== 'source') throw new Problem('forbidden');
      const result = await deps.ingest.submit({
        sourceId: principal.sourceId,
        sourceKey: principal.sourceKey,
        quotas: principal.quotas,
        allowedCategories: principal.categories,
        body: request.body,
        idempotencyKey: request.headers['idempotency-key'] ?? null,
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
        summary: 'List messages (a source sees its own), newest first',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          cursor: Type.Optional(Type.String()),
          category: Type.Optional(Type.String()),
        }),
        response: { 200: Page(MessageSchema), ...problemResponses },
      },
    },
    async (request) => {
      const p = request.principal!;
      const { limit, cursor, category } = request.query;
      const rows = await listMessages(db, {
        limit: limit + 1,
        ...(p.kind === 'source' ? { sourceId: p.sourceId } : {}),
        ...(category ? { category } : {}),
        ...(cursor ? { before: cursor } : {}),
      });
      const page = rows.slice(0, limit);
      return {
        items: await Promise.all(page.map(view)),
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
    async (request) => view(await visibleMessage(request.principal!, request.params.id)),
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
        }),
        response: { 200: Page(DeliverySchema), ...problemResponses },
      },
    },
    async (request) => {
      const message = await visibleMessage(request.principal!, request.params.id);
      const { limit, cursor, channel, status, recipient } = request.query;
      const rows = await listDeliveries(db, message.id, {
        limit: limit + 1,
        ...(cursor ? { after: cursor } : {}),
        ...(channel ? { channel } : {}),
        ...(status ? { status } : {}),
        ...(recipient ? { recipient } : {}),
      });
      const page = rows.slice(0, limit);
      return {
        items: page.map((d) => ({
          ...d,
          createdAt: iso(d.createdAt),
          updatedAt: iso(d.updatedAt),
          finalAt: d.finalAt === null ? null : iso(d.finalAt),
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
            Type.Object({
              attemptLog: Type.Array(
                Type.Object({
                  attempt: Type.Integer(),
                  provider: Type.String(),
                  outcome: Type.String({ description: 'sent | delivered | transient | permanent' }),
                  error: Type.Union([Type.String(), Type.Null()]),
                  startedAt: Type.String(),
                  finishedAt: Type.String(),
                }),
              ),
            }),
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
        attemptLog: attempts.map((a) => ({
          attempt: Number(a.attempt),
          provider: a.provider,
          outcome: a.outcome,
          error: a.error,
          startedAt: iso(Number(a.started_at)),
          finishedAt: iso(Number(a.finished_at)),
        })),
      };
    },
  );
}
