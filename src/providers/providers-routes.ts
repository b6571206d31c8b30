import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem, notFound } from '../http/problem.js';
import { sendProblem } from '../http/error-handler.js';
import { problemResponses, ProblemSchema } from '../http/schemas.js';
import { newId } from '../store/ids.js';
import type { OutboundMessage } from '../channels/channel-provider.js';
import { isPlausibleAddress } from '../channels/email/email-headers.js';
import { sendSafely } from '../channels/resilience/delivery-outcomes.js';
import { guardedMember } from '../channels/resilience/resilient-provider.js';
import { systemClock } from '../channels/resilience/clock.js';
import { generateSecret } from '../webhooks/standard-webhooks.js';
import {
  KIND_CHANNEL,
  LimitsSchema,
  PROVIDER_KINDS,
  validateProviderConfig,
  type ProviderKind,
  type ProviderLimits,
} from './provider-kinds.js';
import { resilientMember, type ProviderFactory } from './provider-factory.js';
import {
  deleteProviderConfig,
  getProviderConfig,
  insertProviderConfig,
  listProviderConfigs,
  updateProviderConfig,
  type ProviderConfig,
} from './providers-store.js';

const NamePattern = '^[a-z][a-z0-9_-]{1,47}$';
const tags = ['providers'];

const Settings = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'smtp: {url, user?, from, replyTo?, maxConnections?}; webhook: {url}. See docs/providers.md.',
});

const ProviderSchema = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  channel: Type.String(),
  priority: Type.Integer(),
  weight: Type.Integer(),
  enabled: Type.Boolean(),
  settings: Settings,
  secretsSet: Type.Array(Type.String(), {
    description: 'Names of the secrets that are set (secrets are write-only)',
  }),
  limits: LimitsSchema,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const NameParams = Type.Object({ name: Type.String() });

const iso = (ms: number) => new Date(ms).toISOString();
const view = (c: ProviderConfig) => ({
  name: c.name,
  kind: c.kind,
  channel: c.channel,
  priority: c.priority,
  weight: c.weight,
  enabled: c.enabled,
  settings: c.settings,
  secretsSet: Object.keys(c.secrets).sort(),
  limits: c.limits,
  createdAt: iso(c.createdAt),
  updatedAt: iso(c.updatedAt),
});

export interface ProvidersRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly guards: AuthGuards;
  /** Builds a configuration's provider (for `POST …/test`). */
  readonly factory: ProviderFactory;
  /** Wakes the registries of other threads after a change (the version is the truth). */
  readonly changes: { announce(): void };
}

/**
 * Admin management of channel providers. Secrets are write-only: responses only list which
 * are set, except a webhook signing secret Herald generated, shown once in the 201. Every
 * change bumps the providers version in the same transaction, so running workers pick it up.
 */
export function providersRoutes(app: Server, deps: ProvidersRoutesDeps): void {
  const { db, clock, guards, changes } = deps;

  async function mustGet(name: string): Promise<ProviderConfig> {
    const config = await getProviderConfig(db, name);
    if (!config) throw notFound(`Provider ${name}`);
    return config;
  }

  app.get(
    '/v1/providers',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'List channel providers (secrets never shown)',
        response: { 200: Type.Object({ items: Type.Array(ProviderSchema) }), ...problemResponses },
      },
    },
    async () => ({ items: (await listProviderConfigs(db)).map(view) }),
  );

  app.post(
    '/v1/providers',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Configure a channel provider',
        description:
          'A webhook provider created without `secrets.signingSecret` gets one generated: it is in this response (`signingSecret`) and never shown again.',
        body: Type.Object(
          {
            name: Type.String({ pattern: NamePattern, examples: ['campus-app'] }),
            kind: Type.Union(
              PROVIDER_KINDS.map((k) => Type.Literal(k)),
              { description: 'smtp (email channel) or webhook (webhook channel)' },
            ),
            priority: Type.Optional(
              Type.Integer({ minimum: 0, maximum: 1000, description: 'Lower is preferred' }),
            ),
            weight: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: 1000,
                description: 'Share among providers of equal priority',
              }),
            ),
            enabled: Type.Optional(Type.Boolean()),
            settings: Settings,
            secrets: Type.Optional(
              Type.Record(Type.String(), Type.String(), { description: 'Write-only' }),
            ),
            limits: Type.Optional(LimitsSchema),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([
            ProviderSchema,
            Type.Object({
              signingSecret: Type.Optional(
                Type.String({ description: 'Only when Herald generated it: shown this once' }),
              ),
            }),
          ]),
          ...problemResponses,
          409: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const kind = body.kind as ProviderKind;
      const secrets: Record<string, string> = { ...body.secrets };
      let generated: string | undefined;
      if (kind === 'webhook' && secrets.signingSecret === undefined) {
        generated = secrets.signingSecret = generateSecret();
      }
      const limits = (body.limits ?? {}) as ProviderLimits;
      check(kind, body.settings, secrets, limits);
      const conflict = () => new Problem('conflict', `Provider ${body.name} already exists`);
      if (await getProviderConfig(db, body.name)) throw conflict();
      const created = await db.transaction().execute((tx) =>
        insertProviderConfig(
          tx,
          {
            name: body.name,
            kind,
            priority: body.priority ?? 0,
            weight: body.weight ?? 1,
            enabled: body.enabled ?? true,
            settings: body.settings,
            secrets,
            limits,
          },
          clock(),
        ),
      );
      // Taken between the check and the insert by a concurrent create.
      if (!created) throw conflict();
      changes.announce();
      return reply
        .code(201)
        .send({ ...view(created), ...(generated ? { signingSecret: generated } : {}) });
    },
  );

  app.get(
    '/v1/providers/:name',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'A channel provider (secrets never shown)',
        params: NameParams,
        response: { 200: ProviderSchema, ...problemResponses },
      },
    },
    async (request) => view(await mustGet(request.params.name)),
  );

  app.patch(
    '/v1/providers/:name',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Change a channel provider',
        description:
          'settings, secrets and limits are merged key by key: a given key replaces, null removes, an absent key is kept. The result is validated as a whole. Name and kind cannot change.',
        params: NameParams,
        body: Type.Object(
          {
            priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
            weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
            enabled: Type.Optional(Type.Boolean()),
            settings: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
            secrets: Type.Optional(
              // Null first: the server coerces types, and would turn null into "" for a string.
              Type.Record(Type.String(), Type.Union([Type.Null(), Type.String()]), {
                description: 'Write-only; null removes a secret',
              }),
            ),
            limits: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          },
          { additionalProperties: false },
        ),
        response: { 200: ProviderSchema, ...problemResponses },
      },
    },
    async (request) => {
      const current = await mustGet(request.params.name);
      const body = request.body;
      const settings = merge(current.settings, body.settings);
      const secrets = merge(current.secrets, body.secrets) as Record<string, string>;
      const limits = merge(current.limits, body.limits) as ProviderLimits;
      check(current.kind, settings, secrets, limits);
      const updated = await db.transaction().execute((tx) =>
        updateProviderConfig(
          tx,
          current.name,
          {
            priority: body.priority ?? current.priority,
            weight: body.weight ?? current.weight,
            enabled: body.enabled ?? current.enabled,
            settings,
            secrets,
            limits,
          },
          clock(),
        ),
      );
      if (!updated) throw notFound(`Provider ${current.name}`);
      changes.announce();
      return view(updated);
    },
  );

  app.delete(
    '/v1/providers/:name',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Remove a channel provider',
        params: NameParams,
        response: { 204: Type.Null(), ...problemResponses },
      },
    },
    async (request, reply) => {
      const deleted = await db
        .transaction()
        .execute((tx) => deleteProviderConfig(tx, request.params.name, clock()));
      if (!deleted) throw notFound(`Provider ${request.params.name}`);
      changes.announce();
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/providers/:name/test',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Send one test message through this provider',
        description:
          'Goes through this provider alone, with its limits and timeout (a fresh breaker), not through the channel failover; works for disabled providers too. `to` is an email address for smtp, a user id (shown to the receiver) for webhook. 502 `provider-test-failed` says how it failed.',
        params: NameParams,
        body: Type.Object(
          { to: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            ok: Type.Literal(true),
            providerMessageId: Type.Union([Type.String(), Type.Null()]),
            durationMs: Type.Integer(),
          }),
          ...problemResponses,
          502: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const config = await mustGet(request.params.name);
      const to = request.body.to;
      if (config.kind === 'smtp' && (to === undefined || !isPlausibleAddress(to))) {
        throw new Problem('validation-failed', 'body/to must be an email address for smtp', {
          errors: [{ path: 'body/to', message: 'must be an email address' }],
        });
      }
      const raw = deps.factory(config);
      const { provider } = guardedMember(resilientMember(config, raw), systemClock);
      const started = Date.now();
      let outcome;
      try {
        [outcome] = await sendSafely(provider, [testMessage(config, to, clock())]);
      } finally {
        await raw.close?.();
      }
      const durationMs = Date.now() - started;
      if (outcome?.ok)
        return { ok: true as const, providerMessageId: outcome.providerMessageId, durationMs };
      const error = outcome?.error;
      // The provider's refusal is the answer, not a fault of Herald: sent, not thrown (thrown
      // 5xx problems are logged as errors).
      return sendProblem(
        request,
        reply,
        new Problem('provider-test-failed', `${config.name}: ${error?.message ?? 'no outcome'}`, {
          kind: error?.kind ?? 'transient',
          error: error?.message ?? 'no outcome',
          durationMs,
        }),
      );
    },
  );
}

function check(kind: ProviderKind, settings: unknown, secrets: unknown, limits: unknown): void {
  const issues = validateProviderConfig(kind, settings, secrets, limits);
  const first = issues[0];
  if (first) {
    throw new Problem('validation-failed', `${first.path} ${first.message}`, { errors: issues });
  }
}

/** One level of JSON merge patch: a given key replaces, null removes, an absent key stays. */
function merge(
  base: Readonly<Record<string, unknown>>,
  patch: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch ?? {})) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

function testMessage(config: ProviderConfig, to: string | undefined, now: number): OutboundMessage {
  const address = to ?? 'herald-test';
  const text = `Herald test message through provider "${config.name}"`;
  return {
    deliveryId: newId(now),
    messageId: newId(now),
    channel: KIND_CHANNEL[config.kind],
    userId: config.kind === 'webhook' ? address : 'herald-test',
    recipient: { externalId: 'herald-test', name: 'Herald test' },
    address,
    category: 'herald.test',
    source: { key: 'herald', name: 'Herald' },
    locale: 'en',
    content: {
      subject: text,
      title: text,
      body: `${text}. An administrator sent it to check the configuration; no action is needed.`,
    },
  };
}
