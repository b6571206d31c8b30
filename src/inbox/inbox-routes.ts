import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem, notFound } from '../http/problem.js';
import { problemResponses, ProblemSchema } from '../http/schemas.js';
import type { InboxHub } from './inbox-hub.js';
import {
  inboxAfter,
  lastInboxSeq,
  listInbox,
  markAllRead,
  markRead,
  unreadCount,
  type InboxItem,
  type OnRead,
} from './inbox-store.js';
import type { CallbackEmitter } from '../callbacks/callback-emitter.js';

const InboxItemSchema = Type.Object({
  id: Type.String(),
  seq: Type.Integer({ description: 'Per-user sequence number (also the SSE event id)' }),
  messageId: Type.String(),
  category: Type.String(),
  source: Type.Object({ key: Type.String(), name: Type.String() }),
  title: Type.String(),
  body: Type.String(),
  url: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  readAt: Type.Union([Type.String(), Type.Null()]),
});

export function inboxItemView(i: InboxItem) {
  return {
    id: i.id,
    seq: i.seq,
    messageId: i.messageId,
    category: i.category,
    source: i.source,
    title: i.title,
    body: i.body,
    url: i.url,
    createdAt: new Date(i.createdAt).toISOString(),
    readAt: i.readAt === null ? null : new Date(i.readAt).toISOString(),
  };
}

export interface InboxRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly guards: AuthGuards;
  readonly hub: InboxHub;
  readonly heartbeatMs: number;
  /** Open streams allowed per user and in all. */
  readonly maxStreamsPerUser?: number;
  readonly maxStreams?: number;
  /** `delivery.read` status callbacks, written with the read marks. */
  readonly callbacks?: CallbackEmitter;
}

export function inboxRoutes(app: Server, deps: InboxRoutesDeps): void {
  const { db, guards, hub } = deps;
  const userId = (p: unknown) => (p as { userId: string }).userId;
  const maxPerUser = deps.maxStreamsPerUser ?? 10;
  const maxAll = deps.maxStreams ?? 10_000;
  const callbacks = deps.callbacks;
  const onRead: OnRead | undefined = callbacks
    ? (tx, items) => callbacks.inboxRead(tx, items, deps.clock())
    : undefined;
  // Open streams never go idle, so the server could not close while they last: end them first.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.get(
    '/v1/me/inbox',
    {
      onRequest: guards.user,
      schema: {
        tags: ['inbox'],
        summary: 'My inbox, newest first',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(
            Type.String({ pattern: '^\\d+$', description: 'nextCursor of the previous page' }),
          ),
          unread: Type.Optional(Type.Boolean({ description: 'Only unread items' })),
          category: Type.Optional(Type.String()),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(InboxItemSchema),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
            unread: Type.Integer(),
          }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const me = userId(request.principal);
      const { limit, cursor, unread, category } = request.query;
      const rows = await listInbox(db, me, {
        limit: limit + 1,
        ...(cursor ? { beforeSeq: Number(cursor) } : {}),
        ...(unread ? { unreadOnly: true } : {}),
        ...(category ? { category } : {}),
      });
      const page = rows.slice(0, limit);
      return {
        items: page.map(inboxItemView),
        nextCursor: rows.length > limit ? String(page[page.length - 1]!.seq) : null,
        unread: await unreadCount(db, me),
      };
    },
  );

  app.get(
    '/v1/me/inbox/unread-count',
    {
      onRequest: guards.user,
      schema: {
        tags: ['inbox'],
        summary: 'How many unread items I have',
        response: { 200: Type.Object({ unread: Type.Integer() }), ...problemResponses },
      },
    },
    async (request) => ({ unread: await unreadCount(db, userId(request.principal)) }),
  );

  app.post(
    '/v1/me/inbox/:id/read',
    {
      onRequest: guards.user,
      schema: {
        tags: ['inbox'],
        summary: 'Mark one of my items read',
        params: Type.Object({ id: Type.String() }),
        response: { 200: InboxItemSchema, ...problemResponses },
      },
    },
    async (request) => {
      const me = userId(request.principal);
      const item = await markRead(db, me, request.params.id, deps.clock(), onRead);
      if (!item) throw notFound(`Inbox item ${request.params.id}`);
      hub.publish(me, 'read');
      return inboxItemView(item);
    },
  );

  app.post(
    '/v1/me/inbox/read-all',
    {
      onRequest: guards.user,
      schema: {
        tags: ['inbox'],
        summary: 'Mark all my items read',
        response: { 200: Type.Object({ marked: Type.Integer() }), ...problemResponses },
      },
    },
    async (request) => {
      const me = userId(request.principal);
      const marked = await markAllRead(db, me, deps.clock(), onRead);
      if (marked > 0) hub.publish(me, 'read');
      return { marked };
    },
  );

  app.get(
    '/v1/me/inbox/stream',
    {
      onRequest: guards.user,
      schema: {
        tags: ['inbox'],
        summary: 'Live inbox (Server-Sent Events)',
        description:
          'Events: `inbox` (id = the item\'s seq, data = the item), `unread` (data = {"unread": n}) and heartbeat comments. Resumes after the `Last-Event-ID` header (browsers send it on reconnect) or the `after` query parameter; without either, only new items are sent.',
        querystring: Type.Object({ after: Type.Optional(Type.String({ pattern: '^\\d+$' })) }),
        response: { 401: ProblemSchema, 429: ProblemSchema },
      },
    },
    async (request, reply) => {
      const me = userId(request.principal);
      if (hub.connections(me) >= maxPerUser || hub.connections() >= maxAll) {
        throw new Problem(
          'too-many-requests',
          'Too many open streams',
          {},
          { 'Retry-After': '10' },
        );
      }
      const header = request.headers['last-event-id'];
      const resume =
        typeof header === 'string' && /^\d+$/.test(header)
          ? Number(header)
          : request.query.after !== undefined
            ? Number(request.query.after)
            : null;

      // Start from where the client is, or from now; anything committed after this read has a
      // higher seq and is picked up by the first flush below.
      let lastSent = resume ?? (await lastInboxSeq(db, me));
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.socket?.setNoDelay(true);
      res.write(`retry: 3000\n\n`);

      let closed = false;
      let busy = false;
      let again = false;
      const flush = async (): Promise<void> => {
        if (busy) {
          again = true;
          return;
        }
        busy = true;
        try {
          do {
            again = false;
            for (;;) {
              const items = await inboxAfter(db, me, lastSent, 200);
              for (const item of items) {
                if (closed) return;
                res.write(
                  `id: ${item.seq}\nevent: inbox\ndata: ${JSON.stringify(inboxItemView(item))}\n\n`,
                );
                lastSent = item.seq;
              }
              if (items.length < 200) break;
            }
            if (!closed)
              res.write(
                `event: unread\ndata: ${JSON.stringify({ unread: await unreadCount(db, me) })}\n\n`,
              );
          } while (again && !closed);
        } catch (err) {
          request.log.warn({ err }, 'inbox stream read failed; closing it');
          res.end();
        } finally {
          busy = false;
        }
      };
      const unsubscribe = hub.subscribe(me, () => void flush());
      const heartbeat = setInterval(() => res.write(`: heartbeat\n\n`), deps.heartbeatMs);
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(end);
      };
      const end = () => {
        close();
        res.end();
      };
      open.add(end);
      res.on('close', close);
      res.on('error', close);
      await flush();
    },
  );
}
