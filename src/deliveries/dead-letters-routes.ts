import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import { inTransaction } from '../store/transaction.js';
import type { Clock } from '../time/clock.js';
import type { Queue } from '../queue/queue.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem, notFound } from '../http/problem.js';
import { Page, problemResponses, ProblemSchema } from '../http/schemas.js';
import {
  getDeadLetter,
  listDeadLetters,
  markRedriven,
  type DeadLetter,
} from './dead-letters-store.js';
import { getMessage } from '../messages/messages-store.js';
import {
  DELIVER_JOB_MAX_LEASES,
  deliverTopic,
  type DeliverJobPayload,
} from '../fanout/fanout-worker.js';

const DeadLetterSchema = Type.Object({
  id: Type.String(),
  deliveryId: Type.String(),
  messageId: Type.String(),
  channel: Type.String(),
  reason: Type.String(),
  createdAt: Type.String(),
  redrivenAt: Type.Union([Type.String(), Type.Null()]),
});

const view = (d: DeadLetter) => ({
  ...d,
  createdAt: new Date(d.createdAt).toISOString(),
  redrivenAt: d.redrivenAt === null ? null : new Date(d.redrivenAt).toISOString(),
});

export interface DeadLettersRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly queue: Queue;
  readonly guards: AuthGuards;
}

export function deadLettersRoutes(app: Server, deps: DeadLettersRoutesDeps): void {
  const { db, guards } = deps;

  app.get(
    '/v1/dead-letters',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['dead letters'],
        summary: 'Deliveries that gave up after their attempts, newest first',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          cursor: Type.Optional(Type.String()),
          includeRedriven: Type.Boolean({ default: false }),
        }),
        response: { 200: Page(DeadLetterSchema), ...problemResponses },
      },
    },
    async (request) => {
      const { limit, cursor, includeRedriven } = request.query;
      const rows = await listDeadLetters(db, {
        limit: limit + 1,
        includeRedriven,
        ...(cursor ? { before: cursor } : {}),
      });
      const page = rows.slice(0, limit);
      return {
        items: page.map(view),
        nextCursor: rows.length > limit ? page[page.length - 1]!.id : null,
      };
    },
  );

  app.post(
    '/v1/dead-letters/:id/redrive',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['dead letters'],
        summary: 'Put a dead delivery back in the queue with a fresh attempt budget',
        params: Type.Object({ id: Type.String() }),
        response: { 202: DeadLetterSchema, ...problemResponses, 409: ProblemSchema },
      },
    },
    async (request, reply) => {
      const dead = await getDeadLetter(db, request.params.id);
      if (!dead) throw notFound(`Dead letter ${request.params.id}`);
      const message = await getMessage(db, dead.messageId);
      if (!message) throw notFound(`Message ${dead.messageId}`);
      const now = deps.clock();
      const redriven = await inTransaction(db, async (tx) => {
        if (!(await markRedriven(tx, dead.id, dead.deliveryId, now))) return false;
        const payload: DeliverJobPayload = { deliveryIds: [dead.deliveryId] };
        await deps.queue.enqueue(
          [
            {
              topic: deliverTopic(dead.channel),
              lane: message.priority,
              payload,
              maxDeliveries: DELIVER_JOB_MAX_LEASES,
            },
          ],
          tx,
        );
        return true;
      });
      if (!redriven) throw new Problem('conflict', 'This dead letter was already re-driven');
      return reply.code(202).send(view({ ...dead, redrivenAt: now }));
    },
  );
}
