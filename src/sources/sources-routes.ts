import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { Server } from '../http/server-types.js';
import type { LookupKind } from '../runtime/cached-lookups.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem, notFound } from '../http/problem.js';
import { problemResponses, ProblemSchema } from '../http/schemas.js';
import {
  createApiKey,
  deleteSource,
  getSourceByAmqpUser,
  getSourceByKey,
  insertSource,
  listApiKeys,
  listSources,
  revokeApiKey,
  updateSource,
  type ApiKeyInfo,
  type Source,
} from './sources-store.js';
import { getCategoriesByKeys } from '../categories/categories-store.js';
import { EmailSenderSchema, emailSenderProblem } from '../categories/email-sender.js';
import { QuotasSchema, type Quotas } from '../quotas/quotas.js';

const KeyPattern = '^[a-z][a-z0-9_-]{1,31}$';

const AmqpUserSchema = Type.Union(
  [Type.String({ minLength: 1, maxLength: 255, pattern: '^\\S+$' }), Type.Null()],
  {
    description:
      'RabbitMQ user whose messages on the AMQP ingress are from this source (their `user_id` property, checked by the broker); null → none. See docs/amqp-ingress.md',
  },
);

const SourceSchema = Type.Object({
  key: Type.String(),
  name: Type.String(),
  categories: Type.Array(Type.String()),
  quotas: QuotasSchema,
  emailFrom: EmailSenderSchema("Sender of this source's email (wins over the category's)"),
  emailReplyTo: EmailSenderSchema("Reply-To of this source's email (wins over the category's)"),
  amqpUser: AmqpUserSchema,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const ApiKeySchema = Type.Object({
  id: Type.String(),
  prefix: Type.String({ description: 'Public part of the key, to recognise it' }),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const sourceView = (s: Source) => ({
  key: s.key,
  name: s.name,
  categories: [...s.categories],
  quotas: { ...s.quotas },
  emailFrom: s.emailFrom,
  emailReplyTo: s.emailReplyTo,
  amqpUser: s.amqpUser,
  createdAt: iso(s.createdAt)!,
  updatedAt: iso(s.updatedAt)!,
});
const keyView = (k: ApiKeyInfo) => ({
  id: k.id,
  prefix: k.prefix,
  createdAt: iso(k.createdAt)!,
  revokedAt: iso(k.revokedAt),
  lastUsedAt: iso(k.lastUsedAt),
});

export interface SourcesRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly guards: AuthGuards;
  /** Told when a source changes, for the workers' caches (quotas, email sender). */
  readonly lookups?: { invalidate(kind: LookupKind): void };
}

export function sourcesRoutes(app: Server, deps: SourcesRoutesDeps): void {
  const { db, guards } = deps;

  async function checkCategories(keys: readonly string[]): Promise<void> {
    const found = new Set((await getCategoriesByKeys(db, keys)).map((c) => c.key));
    const missing = keys.filter((k) => !found.has(k));
    if (missing.length > 0)
      throw new Problem('unknown-category', `Unknown categories: ${missing.join(', ')}`, {
        unknown: missing,
      });
  }

  function checkSenders(b: { emailFrom?: string | null; emailReplyTo?: string | null }): void {
    const errors = (['emailFrom', 'emailReplyTo'] as const).flatMap((field) => {
      const message = emailSenderProblem(field, b[field]);
      return message === null ? [] : [{ path: `body/${field}`, message }];
    });
    if (errors.length > 0) throw new Problem('validation-failed', errors[0]!.message, { errors });
  }

  /** One RabbitMQ user names one source. */
  async function checkAmqpUser(user: string | null | undefined, sourceKey: string): Promise<void> {
    if (!user) return;
    const owner = await getSourceByAmqpUser(db, user);
    if (owner && owner.key !== sourceKey)
      throw new Problem('conflict', `The RabbitMQ user ${user} already names source ${owner.key}`);
  }

  async function mustGet(key: string): Promise<Source> {
    const s = await getSourceByKey(db, key);
    if (!s) throw notFound(`Source ${key}`);
    return s;
  }

  app.get(
    '/v1/sources',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['sources'],
        summary: 'List sources',
        response: { 200: Type.Object({ items: Type.Array(SourceSchema) }), ...problemResponses },
      },
    },
    async () => ({
      items: (await listSources(db)).map(sourceView),
    }),
  );

  app.post(
    '/v1/sources',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['sources'],
        summary: 'Create a source (a producing system)',
        body: Type.Object(
          {
            key: Type.String({ pattern: KeyPattern, examples: ['jwc'] }),
            name: Type.String({ minLength: 1, maxLength: 100, examples: ['教务处'] }),
            categories: Type.Array(Type.String(), {
              description: 'Categories this source may send',
              maxItems: 200,
            }),
            quotas: Type.Optional(QuotasSchema),
            emailFrom: Type.Optional(EmailSenderSchema("Sender of this source's email")),
            emailReplyTo: Type.Optional(EmailSenderSchema("Reply-To of this source's email")),
            amqpUser: Type.Optional(AmqpUserSchema),
          },
          { additionalProperties: false },
        ),
        response: {
          201: SourceSchema,
          ...problemResponses,
          409: ProblemSchema,
          422: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const { key, name, categories, quotas, emailFrom, emailReplyTo, amqpUser } = request.body;
      checkSenders(request.body);
      await checkCategories(categories);
      if (await getSourceByKey(db, key))
        throw new Problem('conflict', `Source ${key} already exists`);
      await checkAmqpUser(amqpUser, key);
      const source = await insertSource(
        db,
        {
          key,
          name,
          categories: [...new Set(categories)],
          ...(quotas ? { quotas: quotas as Quotas } : {}),
          ...(emailFrom !== undefined ? { emailFrom } : {}),
          ...(emailReplyTo !== undefined ? { emailReplyTo } : {}),
          ...(amqpUser !== undefined ? { amqpUser } : {}),
        },
        deps.clock(),
      );
      return reply.code(201).send(sourceView(source));
    },
  );

  app.get(
    '/v1/sources/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['sources'],
        summary: 'A source',
        params: Type.Object({ key: Type.String() }),
        response: { 200: SourceSchema, ...problemResponses },
      },
    },
    async (request) => sourceView(await mustGet(request.params.key)),
  );

  app.patch(
    '/v1/sources/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['sources'],
        summary:
          "Change a source's name, allowed categories, quotas, email sender or RabbitMQ user",
        params: Type.Object({ key: Type.String() }),
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            categories: Type.Optional(Type.Array(Type.String(), { maxItems: 200 })),
            quotas: Type.Optional(QuotasSchema),
            emailFrom: Type.Optional(EmailSenderSchema("Sender of this source's email")),
            emailReplyTo: Type.Optional(EmailSenderSchema("Reply-To of this source's email")),
            amqpUser: Type.Optional(AmqpUserSchema),
          },
          { additionalProperties: false },
        ),
        response: {
          200: SourceSchema,
          ...problemResponses,
          409: ProblemSchema,
          422: ProblemSchema,
        },
      },
    },
    async (request) => {
      const { name, categories, quotas, emailFrom, emailReplyTo, amqpUser } = request.body;
      checkSenders(request.body);
      if (categories) await checkCategories(categories);
      await checkAmqpUser(amqpUser, request.params.key);
      const updated = await updateSource(
        db,
        request.params.key,
        {
          ...(name !== undefined ? { name } : {}),
          ...(categories ? { categories: [...new Set(categories)] } : {}),
          ...(quotas ? { quotas: quotas as Quotas } : {}),
          ...(emailFrom !== undefined ? { emailFrom } : {}),
          ...(emailReplyTo !== undefined ? { emailReplyTo } : {}),
          ...(amqpUser !== undefined ? { amqpUser } : {}),
        },
        deps.clock(),
      );
      if (!updated) throw notFound(`Source ${request.params.key}`);
      // Its categories and quotas travel with its API keys' cached authentication.
      guards.apiKeys.invalidate();
      deps.lookups?.invalidate('sources');
      return sourceView(updated);
    },
  );

  app.delete(
    '/v1/sources/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['sources'],
        summary: 'Delete a source that has sent nothing (revoke its keys instead otherwise)',
        params: Type.Object({ key: Type.String() }),
        response: { 204: Type.Null(), ...problemResponses, 409: ProblemSchema },
      },
    },
    async (request, reply) => {
      const result = await deleteSource(db, request.params.key);
      if (result === 'missing') throw notFound(`Source ${request.params.key}`);
      if (result === 'in-use')
        throw new Problem('conflict', 'This source has sent messages; revoke its API keys instead');
      guards.apiKeys.invalidate();
      deps.lookups?.invalidate('sources');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/sources/:key/api-keys',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['sources'],
        summary: "A source's API keys (never the secrets)",
        params: Type.Object({ key: Type.String() }),
        response: { 200: Type.Object({ items: Type.Array(ApiKeySchema) }), ...problemResponses },
      },
    },
    async (request) => {
      const source = await mustGet(request.params.key);
      return { items: (await listApiKeys(db, source.id)).map(keyView) };
    },
  );

  app.post(
    '/v1/sources/:key/api-keys',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['sources'],
        summary: 'Create an API key; the secret is in this response only',
        params: Type.Object({ key: Type.String() }),
        response: {
          201: Type.Intersect([ApiKeySchema, Type.Object({ secret: Type.String() })]),
          ...problemResponses,
        },
      },
    },
    async (request, reply) => {
      const source = await mustGet(request.params.key);
      const { info, secret } = await createApiKey(db, source.id, deps.clock());
      return reply.code(201).send({ ...keyView(info), secret });
    },
  );

  app.delete(
    '/v1/sources/:key/api-keys/:id',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['sources'],
        summary: 'Revoke an API key (at once, for good)',
        params: Type.Object({ key: Type.String(), id: Type.String() }),
        response: { 204: Type.Null(), ...problemResponses },
      },
    },
    async (request, reply) => {
      const source = await mustGet(request.params.key);
      if (!(await revokeApiKey(db, source.id, request.params.id, deps.clock()))) {
        throw notFound(`Active API key ${request.params.id}`);
      }
      // Refused from the next request on here; elsewhere as soon as the signal arrives (at
      // most API_KEY_CACHE_TTL_MS later).
      guards.apiKeys.invalidate();
      return reply.code(204).send(null);
    },
  );
}
