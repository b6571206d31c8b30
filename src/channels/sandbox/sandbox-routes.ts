import { Type } from 'typebox';
import type { Db } from '../../store/database.js';
import type { Server } from '../../http/server-types.js';
import type { AuthGuards } from '../../http/auth-guards.js';
import { ChannelSchema, Page, problemResponses } from '../../http/schemas.js';
import { listOutbox } from './sandbox-store.js';

export function sandboxRoutes(app: Server, deps: { db: Db; guards: AuthGuards }): void {
  app.get(
    '/v1/sandbox/outbox',
    {
      onRequest: deps.guards.admin,
      schema: {
        tags: ['sandbox'],
        summary: 'What the sandbox provider recorded instead of sending, newest first',
        description:
          "Each entry is the exact rendered payload the channel's provider would have received.",
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          cursor: Type.Optional(Type.String()),
          channel: Type.Optional(ChannelSchema),
          messageId: Type.Optional(Type.String()),
        }),
        response: {
          200: Page(
            Type.Object({
              id: Type.String(),
              deliveryId: Type.String(),
              messageId: Type.String(),
              channel: Type.String(),
              recipient: Type.String(),
              payload: Type.Record(Type.String(), Type.Unknown()),
              createdAt: Type.String(),
            }),
          ),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const { limit, cursor, channel, messageId } = request.query;
      const rows = await listOutbox(deps.db, {
        limit: limit + 1,
        ...(cursor ? { before: cursor } : {}),
        ...(channel ? { channel } : {}),
        ...(messageId ? { messageId } : {}),
      });
      const page = rows.slice(0, limit);
      return {
        items: page.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString() })),
        nextCursor: rows.length > limit ? page[page.length - 1]!.id : null,
      };
    },
  );
}
