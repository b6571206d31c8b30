import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { LookupKind } from '../runtime/cached-lookups.js';
import type { AuthGuards } from '../http/auth-guards.js';
import type { Server } from '../http/server-types.js';
import { Problem, notFound } from '../http/problem.js';
import { ActorSchema, ProblemSchema, problemResponses } from '../http/schemas.js';
import { actorOf, actorView } from '../auth/operators.js';
import { CHANNELS, isChannel, type Channel } from '../channels/channel.js';
import { getCategory } from '../categories/categories-store.js';
import { canonicalLocale, LOCALE_PATTERN } from './locale-chain.js';
import { renderContext } from './render-context.js';
import {
  TemplateRenderError,
  type TemplateParts,
  type TemplateRenderer,
} from './template-renderer.js';
import {
  getCurrentTemplate,
  getVersion,
  listTemplates,
  listVersions,
  putTemplate,
  type StoredTemplate,
} from './templates-store.js';

/** Longest text of one part; the renderer refuses to parse more. */
const MAX_PART_CHARS = 100_000;

const Text = (description: string) =>
  Type.String({ minLength: 1, maxLength: MAX_PART_CHARS, description });

const Parts = {
  subject: Type.Optional(
    Type.Union([Text('Email subject (Liquid); required for email'), Type.Null()]),
  ),
  title: Type.Optional(
    Type.Union([
      Text('Title shown in the inbox and push (Liquid); required for in_app'),
      Type.Null(),
    ]),
  ),
  body: Text(
    'Body (Liquid). Variables: `data.*` (the message data), `recipient.*`, `source.*`, `message.*`',
  ),
};

const TemplateSchema = Type.Object(
  {
    category: Type.String(),
    channel: Type.String(),
    locale: Type.String(),
    version: Type.Integer({
      minimum: 1,
      description: 'Increments with every PUT; the highest is current',
    }),
    subject: Type.Union([Type.String(), Type.Null()]),
    title: Type.Union([Type.String(), Type.Null()]),
    body: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    createdBy: Type.Union(ActorSchema.anyOf, {
      description:
        'Who stored this version: an operator (their external id) or the admin token; null for versions stored before this was recorded (and the demo seed)',
    }),
  },
  { description: 'One version of a template' },
);

const Rendered = Type.Object(
  {
    subject: Type.Optional(Type.String()),
    title: Type.Optional(Type.String()),
    body: Type.String(),
  },
  { description: 'The rendered parts' },
);

const PathParams = Type.Object({
  category: Type.String({ description: 'Category key' }),
  channel: Type.String({ description: `One of ${CHANNELS.join(', ')}` }),
  locale: Type.String({
    pattern: LOCALE_PATTERN,
    description: 'BCP 47 locale, e.g. zh-CN, en, en-US',
  }),
});

const PutBody = Type.Object(Parts, { additionalProperties: false });

const PreviewBody = Type.Object(
  {
    data: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Message data, as a producer would send it',
      }),
    ),
    recipient: Type.Optional(
      Type.Object(
        {
          name: Type.Optional(Type.String({ description: 'Default "Preview User"' })),
          externalId: Type.Optional(Type.String({ description: 'Default "preview"' })),
          locale: Type.Optional(Type.String({ description: "Default the template's locale" })),
          timezone: Type.Optional(
            Type.String({ description: 'IANA zone for the date filter, e.g. Asia/Shanghai' }),
          ),
        },
        { additionalProperties: false, description: 'The sample recipient' },
      ),
    ),
    template: Type.Optional(
      Type.Object(Parts, {
        additionalProperties: false,
        description: 'An unsaved draft to render instead of the current version',
      }),
    ),
  },
  { additionalProperties: false },
);

function present(t: StoredTemplate) {
  return {
    category: t.category,
    channel: t.channel,
    locale: t.locale,
    version: t.version,
    subject: t.subject,
    title: t.title,
    body: t.body,
    createdAt: new Date(t.createdAt).toISOString(),
    createdBy: actorView(t.createdBy),
  };
}

/** Path parameters checked: a known channel and a locale in canonical form. */
function target(params: { category: string; channel: string; locale: string }): {
  category: string;
  channel: Channel;
  locale: string;
} {
  if (!isChannel(params.channel)) {
    throw new Problem(
      'unknown-channel',
      `There is no channel "${params.channel}"; use one of ${CHANNELS.join(', ')}`,
      {
        unknown: [params.channel],
      },
    );
  }
  const locale = canonicalLocale(params.locale);
  if (!locale) {
    throw new Problem(
      'validation-failed',
      `"${params.locale}" is not a locale such as zh-CN or en`,
      {
        errors: [{ path: 'params/locale', message: 'is not a locale' }],
      },
    );
  }
  return { category: params.category, channel: params.channel, locale };
}

/** What each channel shows besides the body. */
function requiredParts(channel: Channel, parts: TemplateParts): void {
  const need = channel === 'email' ? 'subject' : channel === 'in_app' ? 'title' : null;
  if (need && !parts[need]) {
    throw new Problem('validation-failed', `${channel} templates need a ${need}`, {
      errors: [{ path: `body/${need}`, message: `is required for ${channel} templates` }],
    });
  }
}

/** Admin management of templates: versioned per category × channel × locale, with preview. */
export function templatesRoutes(
  app: Server,
  deps: {
    db: Db;
    clock: Clock;
    guards: AuthGuards;
    renderer: TemplateRenderer;
    /** Told when a template changes, for the workers' caches. */
    lookups?: { invalidate(kind: LookupKind): void };
  },
): void {
  const { db, clock, guards, renderer } = deps;
  const tags = ['templates'];
  const path = '/v1/templates/:category/:channel/:locale';

  app.put(
    path,
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Store a new version of a template',
        description:
          'Each PUT stores a new version (201 for the first, 200 after). The texts must parse as Liquid; 422 `template-invalid` lists the errors with line and column.',
        params: PathParams,
        body: PutBody,
        response: { 200: TemplateSchema, 201: TemplateSchema },
      },
    },
    async (request, reply) => {
      const t = target(request.params);
      const parts = request.body;
      requiredParts(t.channel, parts);
      if (!(await getCategory(db, t.category))) {
        throw new Problem(
          'unknown-category',
          `There is no category "${t.category}"; create it first`,
        );
      }
      const validation = renderer.validate(parts);
      if (!validation.ok) {
        const first = validation.errors[0]!;
        throw new Problem('template-invalid', `${first.part}: ${first.message}`, {
          errors: validation.errors,
        });
      }
      const stored = await putTemplate(
        db,
        {
          ...t,
          subject: parts.subject ?? null,
          title: parts.title ?? null,
          body: parts.body,
          createdBy: actorOf(request.principal),
        },
        clock(),
      );
      deps.lookups?.invalidate('templates');
      return reply.code(stored.version === 1 ? 201 : 200).send(present(stored));
    },
  );

  app.get(
    '/v1/templates',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'List the current version of every template',
        querystring: Type.Object({
          category: Type.Optional(Type.String({ description: 'Only this category' })),
        }),
        response: { 200: Type.Object({ items: Type.Array(TemplateSchema) }) },
      },
    },
    async (request) => {
      const { category } = request.query;
      return {
        items: (await listTemplates(db, category !== undefined ? { category } : {})).map(present),
      };
    },
  );

  app.get(
    path,
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Get the current version of a template',
        params: PathParams,
        response: { 200: TemplateSchema },
      },
    },
    async (request) => {
      const t = target(request.params);
      const current = await getCurrentTemplate(db, t.category, t.channel, t.locale);
      if (!current) throw notFound(`Template ${t.category}/${t.channel}/${t.locale}`);
      return present(current);
    },
  );

  app.get(
    `${path}/versions`,
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'List every version of a template, newest first',
        params: PathParams,
        response: { 200: Type.Object({ items: Type.Array(TemplateSchema) }) },
      },
    },
    async (request) => {
      const t = target(request.params);
      const versions = await listVersions(db, t.category, t.channel, t.locale);
      if (versions.length === 0) throw notFound(`Template ${t.category}/${t.channel}/${t.locale}`);
      return { items: versions.map(present) };
    },
  );

  const VersionParams = Type.Object({
    ...PathParams.properties,
    version: Type.Integer({ minimum: 1 }),
  });

  app.get(
    `${path}/versions/:version`,
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Get one version of a template',
        params: VersionParams,
        response: { 200: TemplateSchema, ...problemResponses },
      },
    },
    async (request) => {
      const t = target(request.params);
      const v = await getVersion(db, t.category, t.channel, t.locale, request.params.version);
      if (!v)
        throw notFound(
          `Version ${request.params.version} of ${t.category}/${t.channel}/${t.locale}`,
        );
      return present(v);
    },
  );

  app.post(
    `${path}/versions/:version/restore`,
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Make an earlier version current again (stored as a new version)',
        description:
          'Stores the texts of that version as the next version, so history only grows and every delivery can still say which version it used. Answers the new version.',
        params: VersionParams,
        response: { 200: TemplateSchema, ...problemResponses },
      },
    },
    async (request) => {
      const t = target(request.params);
      const v = await getVersion(db, t.category, t.channel, t.locale, request.params.version);
      if (!v)
        throw notFound(
          `Version ${request.params.version} of ${t.category}/${t.channel}/${t.locale}`,
        );
      const stored = await putTemplate(
        db,
        {
          ...t,
          subject: v.subject,
          title: v.title,
          body: v.body,
          createdBy: actorOf(request.principal),
        },
        clock(),
      );
      deps.lookups?.invalidate('templates');
      return present(stored);
    },
  );

  app.get(
    '/v1/templates/data-fields',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: "The message data a category's templates read",
        description:
          'Every `data.*` variable the current templates of the category use (outside their own loop variables), with the templates using it: the fields a compose form asks for. Whether one is optional (`{% if %}`, `default`) is not told apart.',
        querystring: Type.Object({ category: Type.String({ minLength: 1 }) }),
        response: {
          200: Type.Object({
            category: Type.String(),
            fields: Type.Array(
              Type.Object({
                path: Type.String({ description: 'e.g. `course`, or `a.b` for data.a.b' }),
                templates: Type.Array(Type.String(), {
                  description: '`channel/locale` of the templates that read it',
                }),
              }),
              { description: 'In order of first appearance' },
            ),
          }),
          ...problemResponses,
          422: ProblemSchema,
        },
      },
    },
    async (request) => {
      const { category } = request.query;
      if (!(await getCategory(db, category))) {
        throw new Problem('unknown-category', `There is no category "${category}"`);
      }
      const fields = new Map<string, string[]>();
      for (const tpl of await listTemplates(db, { category })) {
        for (const segments of renderer.dataPaths(tpl)) {
          const key = segments.join('.');
          const list = fields.get(key) ?? [];
          list.push(`${tpl.channel}/${tpl.locale}`);
          fields.set(key, list);
        }
      }
      return {
        category,
        fields: [...fields.entries()].map(([path, templates]) => ({ path, templates })),
      };
    },
  );

  app.post(
    `${path}/preview`,
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Render a template with sample data',
        description:
          'Renders the current version, or the draft in `template`, with `data` and `recipient` exactly as a delivery would. A render error (e.g. a variable the data lacks) is 422 `template-invalid`.',
        params: PathParams,
        body: PreviewBody,
        response: { 200: Rendered },
      },
    },
    async (request) => {
      const t = target(request.params);
      const { data = {}, recipient = {}, template } = request.body;
      let parts: TemplateParts;
      let key: string;
      if (template) {
        // Every parse error of every part at once, for an editor to mark them all.
        const validation = renderer.validate(template);
        if (!validation.ok) {
          const first = validation.errors[0]!;
          throw new Problem('template-invalid', `${first.part}: ${first.message}`, {
            errors: validation.errors.map((e) => ({ ...e, kind: 'parse' })),
          });
        }
        parts = template;
        key = `${t.category}/${t.channel}/${t.locale} (draft)`;
      } else {
        const current = await getCurrentTemplate(db, t.category, t.channel, t.locale);
        if (!current) throw notFound(`Template ${t.category}/${t.channel}/${t.locale}`);
        parts = current;
        key = `${t.category}/${t.channel}/${t.locale} v${current.version}`;
      }
      const context = renderContext({
        data,
        recipient: {
          name: recipient.name ?? 'Preview User',
          externalId: recipient.externalId ?? 'preview',
          locale: recipient.locale ?? t.locale,
        },
        source: { key: 'preview', name: 'Preview' },
        message: { id: 'preview', category: t.category, locale: t.locale },
      });
      try {
        return await renderer.render(key, parts, context, {
          locale: t.locale,
          ...(recipient.timezone !== undefined ? { timezone: recipient.timezone } : {}),
        });
      } catch (err) {
        if (!(err instanceof TemplateRenderError)) throw err;
        throw new Problem('template-invalid', err.message, {
          errors: [
            {
              part: err.part,
              kind: err.kind,
              message: err.message,
              ...(err.line !== undefined ? { line: err.line, col: err.col } : {}),
            },
          ],
        });
      }
    },
  );
}
