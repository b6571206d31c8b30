import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { LookupKind } from '../runtime/cached-lookups.js';
import type { AuthGuards } from '../http/auth-guards.js';
import type { Server } from '../http/server-types.js';
import { Problem, notFound } from '../http/problem.js';
import { CHANNELS } from '../channels/channel.js';
import { LOCALE_PATTERN } from '../templates/locale-chain.js';
import {
  deleteCategory,
  getCategory,
  insertCategory,
  listCategories,
  updateCategory,
  type Category,
} from './categories-store.js';
import {
  ChannelFallbacksSchema,
  fallbackMapProblem,
  type ChannelFallbacks,
} from './channel-fallbacks.js';
import { EmailSenderSchema, emailSenderProblem } from './email-sender.js';

export const CATEGORY_KEY_PATTERN = '^[a-z][a-z0-9_.-]{1,63}$';

const Key = Type.String({
  pattern: CATEGORY_KEY_PATTERN,
  description: 'Stable identifier used by producers, e.g. `exam.schedule`',
  examples: ['exam.schedule'],
});
const Name = Type.Record(
  Type.String({ pattern: LOCALE_PATTERN }),
  Type.String({ minLength: 1, maxLength: 200 }),
  {
    minProperties: 1,
    additionalProperties: false,
    description: 'Display name per locale (at least one)',
    examples: [{ 'zh-CN': '考试安排', en: 'Exam schedule' }],
  },
);
const Priority = Type.Enum(['urgent', 'normal', 'bulk'], {
  description: 'Queue lane: urgent overtakes normal, which overtakes bulk',
});
const Mandatory = Type.Boolean({ description: 'Users cannot turn mandatory categories off' });
const DefaultChannels = Type.Array(Type.Enum([...CHANNELS]), {
  minItems: 1,
  uniqueItems: true,
  description: 'Channels used when neither the producer nor the user chose',
});
const MaxAttempts = Type.Integer({
  minimum: 1,
  maximum: 50,
  description: 'Delivery attempts per channel before the delivery is dead-lettered',
});

const CategorySchema = Type.Object(
  {
    key: Key,
    name: Name,
    priority: Priority,
    mandatory: Mandatory,
    defaultChannels: DefaultChannels,
    maxAttempts: MaxAttempts,
    channelFallbacks: ChannelFallbacksSchema,
    emailFrom: EmailSenderSchema("Sender of this category's email (a source's own wins)"),
    emailReplyTo: EmailSenderSchema("Reply-To of this category's email (a source's own wins)"),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { description: 'A kind of notification and its delivery defaults' },
);

const CreateBody = Type.Object(
  {
    key: Key,
    name: Name,
    priority: Type.Optional(
      Type.Enum(['urgent', 'normal', 'bulk'], {
        default: 'normal',
        description: 'Queue lane (default normal)',
      }),
    ),
    mandatory: Type.Optional(
      Type.Boolean({ default: false, description: 'Users cannot turn it off (default false)' }),
    ),
    defaultChannels: DefaultChannels,
    maxAttempts: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 50,
        default: 5,
        description: 'Attempts per channel (default 5)',
      }),
    ),
    channelFallbacks: Type.Optional(ChannelFallbacksSchema),
    emailFrom: Type.Optional(EmailSenderSchema("Sender of this category's email")),
    emailReplyTo: Type.Optional(EmailSenderSchema("Reply-To of this category's email")),
  },
  { additionalProperties: false },
);

const PatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    priority: Type.Optional(Priority),
    mandatory: Type.Optional(Mandatory),
    defaultChannels: Type.Optional(DefaultChannels),
    maxAttempts: Type.Optional(MaxAttempts),
    channelFallbacks: Type.Optional(ChannelFallbacksSchema),
    emailFrom: Type.Optional(EmailSenderSchema("Sender of this category's email")),
    emailReplyTo: Type.Optional(EmailSenderSchema("Reply-To of this category's email")),
  },
  { additionalProperties: false, minProperties: 1, description: 'Only the fields given change' },
);

const KeyParams = Type.Object({ key: Type.String({ description: 'Category key' }) });

function present(c: Category) {
  return {
    key: c.key,
    name: { ...c.name },
    priority: c.priority,
    mandatory: c.mandatory,
    defaultChannels: [...c.defaultChannels],
    maxAttempts: c.maxAttempts,
    channelFallbacks: { ...c.channelFallbacks },
    emailFrom: c.emailFrom,
    emailReplyTo: c.emailReplyTo,
    createdAt: new Date(c.createdAt).toISOString(),
    updatedAt: new Date(c.updatedAt).toISOString(),
  };
}

/** Rules the schema cannot say: fallbacks without cycles, sender addresses that parse. */
function checkDeliverySettings(b: {
  channelFallbacks?: ChannelFallbacks;
  emailFrom?: string | null;
  emailReplyTo?: string | null;
}): void {
  const problems = [
    ...(b.channelFallbacks ? [['channelFallbacks', fallbackMapProblem(b.channelFallbacks)]] : []),
    ['emailFrom', emailSenderProblem('emailFrom', b.emailFrom)],
    ['emailReplyTo', emailSenderProblem('emailReplyTo', b.emailReplyTo)],
  ].filter((p): p is [string, string] => p[1] !== null);
  if (problems.length > 0) {
    throw new Problem('validation-failed', problems[0]![1], {
      errors: problems.map(([field, message]) => ({ path: `body/${field}`, message })),
    });
  }
}

/** Admin CRUD of notification categories. */
export function categoriesRoutes(
  app: Server,
  deps: {
    db: Db;
    clock: Clock;
    guards: AuthGuards;
    /** Told when categories (and their templates) change, for the workers' caches. */
    lookups?: { invalidate(kind: LookupKind): void };
  },
): void {
  const { db, clock, guards } = deps;
  const tags = ['categories'];

  app.post(
    '/v1/categories',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Create a category',
        body: CreateBody,
        response: { 201: CategorySchema },
      },
    },
    async (request, reply) => {
      const b = request.body;
      checkDeliverySettings(b);
      const created = await insertCategory(
        db,
        {
          key: b.key,
          name: b.name,
          priority: b.priority ?? 'normal',
          mandatory: b.mandatory ?? false,
          defaultChannels: b.defaultChannels,
          maxAttempts: b.maxAttempts ?? 5,
          ...(b.channelFallbacks ? { channelFallbacks: b.channelFallbacks } : {}),
          ...(b.emailFrom !== undefined ? { emailFrom: b.emailFrom } : {}),
          ...(b.emailReplyTo !== undefined ? { emailReplyTo: b.emailReplyTo } : {}),
        },
        clock(),
      );
      if (!created)
        throw new Problem('conflict', `A category "${b.key}" already exists; PATCH it instead`);
      return reply.code(201).send(present(created));
    },
  );

  app.get(
    '/v1/categories',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'List categories',
        response: { 200: Type.Object({ items: Type.Array(CategorySchema) }) },
      },
    },
    async () => ({ items: (await listCategories(db)).map(present) }),
  );

  app.get(
    '/v1/categories/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Get a category',
        params: KeyParams,
        response: { 200: CategorySchema },
      },
    },
    async (request) => {
      const c = await getCategory(db, request.params.key);
      if (!c) throw notFound(`Category "${request.params.key}"`);
      return present(c);
    },
  );

  app.patch(
    '/v1/categories/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Change some fields of a category',
        params: KeyParams,
        body: PatchBody,
        response: { 200: CategorySchema },
      },
    },
    async (request) => {
      checkDeliverySettings(request.body);
      const c = await updateCategory(db, request.params.key, request.body, clock());
      if (!c) throw notFound(`Category "${request.params.key}"`);
      deps.lookups?.invalidate('categories');
      return present(c);
    },
  );

  app.delete(
    '/v1/categories/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Delete a category and its templates (refused once messages use it)',
        params: KeyParams,
      },
    },
    async (request, reply) => {
      const outcome = await deleteCategory(db, request.params.key, clock());
      if (outcome === 'missing') throw notFound(`Category "${request.params.key}"`);
      if (outcome === 'in-use') {
        throw new Problem(
          'conflict',
          `Messages were sent in category "${request.params.key}", so it cannot be deleted; keep it, or stop producers from using it`,
        );
      }
      deps.lookups?.invalidate('categories');
      deps.lookups?.invalidate('templates');
      // It was taken off the sources' lists too.
      guards.apiKeys.invalidate();
      deps.lookups?.invalidate('sources');
      return reply.code(204).send();
    },
  );
}
