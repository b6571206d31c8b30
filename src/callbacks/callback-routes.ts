import { performance } from 'node:perf_hooks';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem, notFound } from '../http/problem.js';
import { problemResponses, ProblemSchema } from '../http/schemas.js';
import { newId } from '../store/ids.js';
import { generateSecret } from '../webhooks/standard-webhooks.js';
import {
  clearSourceCallback,
  getSourceByKey,
  getSourceCallback,
  rotateSourceCallbackSecret,
  setSourceCallback,
  type Source,
} from '../sources/sources-store.js';
import { CALLBACK_EVENT_TYPES, type CallbackEvent } from './callback-events.js';
import { callbackUrlProblem } from './callback-url.js';
import { sendCallback } from './callback-sender.js';
import type { Callbacks } from './callbacks.js';

const EventsSchema = Type.Array(Type.Enum([...CALLBACK_EVENT_TYPES]), {
  minItems: 1,
  uniqueItems: true,
  description: 'Event types to receive; omitted → all of them',
});

const CallbackSchema = Type.Object({
  url: Type.String(),
  events: Type.Union([Type.Array(Type.String()), Type.Null()], {
    description: 'Event types sent; null → all',
  }),
  secretSet: Type.Boolean({ description: 'A signing secret exists (it is never shown again)' }),
});

const SecretSchema = Type.String({
  description: 'Standard Webhooks signing secret (whsec_…): shown in this response only',
});

const Params = Type.Object({ key: Type.String() });

export interface CallbackRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly guards: AuthGuards;
  readonly callbacks: Pick<Callbacks, 'subscriptions' | 'delivery'>;
}

/**
 * A source's status callback: `/v1/sources/{key}/callback`. The admin manages every source's;
 * a source, with its API key, its own. The signing secret is made on the first PUT and shown
 * then (and on rotation) only.
 */
export function callbackRoutes(app: Server, deps: CallbackRoutesDeps): void {
  const { db, guards, clock } = deps;

  async function sourceFor(request: FastifyRequest, key: string): Promise<Source> {
    const principal = request.principal;
    if (principal?.kind === 'source' && principal.sourceKey !== key) {
      throw new Problem('forbidden', 'A source manages its own callback only');
    }
    const source = await getSourceByKey(db, key);
    if (!source) throw notFound(`Source ${key}`);
    return source;
  }

  app.get(
    '/v1/sources/:key/callback',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['callbacks'],
        summary: "A source's status callback (never its secret)",
        params: Params,
        response: { 200: CallbackSchema, ...problemResponses },
      },
    },
    async (request) => {
      const source = await sourceFor(request, request.params.key);
      const callback = await getSourceCallback(db, source.id);
      if (!callback) throw notFound(`The callback of source ${source.key}`);
      return {
        url: callback.url,
        events: callback.events === null ? null : [...callback.events],
        secretSet: callback.secret !== null,
      };
    },
  );

  app.put(
    '/v1/sources/:key/callback',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['callbacks'],
        summary:
          'Set where status events are POSTed; the first time, the signing secret is created and returned (once)',
        params: Params,
        body: Type.Object(
          {
            url: Type.String({
              minLength: 1,
              maxLength: 2048,
              examples: ['https://jwc.example.edu/herald/events'],
            }),
            events: Type.Optional(EventsSchema),
          },
          { additionalProperties: false },
        ),
        response: {
          200: CallbackSchema,
          201: Type.Intersect([CallbackSchema, Type.Object({ secret: SecretSchema })]),
          ...problemResponses,
        },
      },
    },
    async (request, reply) => {
      const source = await sourceFor(request, request.params.key);
      const { url, events } = request.body;
      const problem = callbackUrlProblem(url);
      if (problem) throw new Problem('validation-failed', problem);
      const secret = generateSecret();
      const stored = await setSourceCallback(
        db,
        source.id,
        { url, events: events ?? null },
        secret,
        clock(),
      );
      if (!stored) throw notFound(`Source ${source.key}`);
      deps.callbacks.subscriptions.invalidate();
      const view = { url, events: events ? [...events] : null, secretSet: true };
      if (stored.secretCreated) return reply.code(201).send({ ...view, secret });
      return reply.code(200).send(view);
    },
  );

  app.delete(
    '/v1/sources/:key/callback',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['callbacks'],
        summary: 'Stop status events (pending ones are dropped) and forget the secret',
        params: Params,
        response: { 204: Type.Null(), ...problemResponses },
      },
    },
    async (request, reply) => {
      const source = await sourceFor(request, request.params.key);
      if (!(await clearSourceCallback(db, source.id, clock()))) {
        throw notFound(`The callback of source ${source.key}`);
      }
      deps.callbacks.subscriptions.invalidate();
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/sources/:key/callback/rotate-secret',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['callbacks'],
        summary: 'Replace the signing secret; the new one is in this response only',
        params: Params,
        response: { 200: Type.Object({ secret: SecretSchema }), ...problemResponses },
      },
    },
    async (request) => {
      const source = await sourceFor(request, request.params.key);
      const secret = generateSecret();
      if (!(await rotateSourceCallbackSecret(db, source.id, secret, clock()))) {
        throw notFound(`The callback of source ${source.key}`);
      }
      return { secret };
    },
  );

  app.post(
    '/v1/sources/:key/callback/test',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['callbacks'],
        summary: 'Send a signed `ping` event now and report what the receiver answered',
        params: Params,
        response: {
          200: Type.Object({
            ok: Type.Boolean({ description: 'The receiver answered 2xx' }),
            status: Type.Integer({ description: "The receiver's HTTP status" }),
            webhookId: Type.String(),
            durationMs: Type.Integer(),
          }),
          ...problemResponses,
          502: ProblemSchema,
        },
      },
    },
    async (request) => {
      const source = await sourceFor(request, request.params.key);
      const callback = await getSourceCallback(db, source.id);
      if (!callback) throw notFound(`The callback of source ${source.key}`);
      if (callback.secret === null) {
        throw new Problem('callback-unreachable', 'The callback has no signing secret', {
          reason: 'no-secret',
        });
      }
      const now = clock();
      const event: CallbackEvent = {
        id: newId(now),
        type: 'ping',
        timestamp: new Date(now).toISOString(),
        data: { source: source.key },
      };
      const started = performance.now();
      const result = await sendCallback(
        deps.callbacks.delivery.http,
        { url: callback.url, secret: callback.secret },
        event,
        now,
      );
      const durationMs = Math.round(performance.now() - started);
      // Any answer from the receiver, 2xx or not, is reported as it is.
      const answered = { webhookId: event.id, durationMs };
      if (result.kind === 'ok') return { ok: true, status: result.status, ...answered };
      if (result.kind === 'rejected') return { ok: false, status: result.status, ...answered };
      if (result.kind === 'retry' && result.status !== undefined) {
        return { ok: false, status: result.status, ...answered };
      }
      throw new Problem('callback-unreachable', result.error, {
        reason: result.kind === 'refused' ? 'refused' : 'unreachable',
        webhookId: event.id,
      });
    },
  );
}
