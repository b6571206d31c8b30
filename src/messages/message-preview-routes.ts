import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem } from '../http/problem.js';
import {
  AudienceSchema,
  ChannelSchema,
  LocaleSchema,
  ProblemSchema,
  problemResponses,
} from '../http/schemas.js';
import type { Channel } from '../channels/channel.js';
import { getCategory } from '../categories/categories-store.js';
import { getSourceByKey } from '../sources/sources-store.js';
import { getUserByExternalId } from '../recipients/users-store.js';
import { canonicalLocale } from '../templates/locale-chain.js';
import type { TemplateRenderer } from '../templates/template-renderer.js';
import { previewMessage, templateLocales, type PreviewReader } from './message-preview.js';

const PreviewBody = Type.Object(
  {
    category: Type.String({ minLength: 1, maxLength: 64 }),
    data: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Template variables' }),
    ),
    channels: Type.Optional(
      Type.Array(ChannelSchema, {
        minItems: 1,
        maxItems: 9,
        description: "Default: the category's default channels",
      }),
    ),
    locale: Type.Optional(LocaleSchema),
    locales: Type.Optional(
      Type.Array(Type.String({ minLength: 2, maxLength: 35 }), {
        minItems: 1,
        maxItems: 5,
        description:
          "Readers' languages to preview. Default: the reader's (with `recipient`), else every language the category has templates in",
      }),
    ),
    recipient: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'External id of a real user to render for (their name, language, time zone); default a sample person',
      }),
    ),
    source: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'Source key, for `source.*`' }),
    ),
    to: Type.Optional(AudienceSchema),
    sendAt: Type.Optional(Type.String()),
  },
  {
    additionalProperties: false,
    description:
      'The body of `POST /v1/messages` (`to` and `sendAt` are accepted and not used) plus `locales` and `recipient`',
  },
);

const PreviewItemSchema = Type.Object({
  channel: Type.String(),
  locale: Type.String({ description: "The reader's language" }),
  templateLocale: Type.Union([Type.String(), Type.Null()], {
    description: 'The template used after the fallback chain (zh-HK → zh → zh-CN → en)',
  }),
  version: Type.Union([Type.Integer(), Type.Null()]),
  rendered: Type.Union([
    Type.Object({
      subject: Type.Optional(Type.String()),
      title: Type.Optional(Type.String()),
      body: Type.String(),
    }),
    Type.Null(),
  ]),
  error: Type.Union([
    Type.Object({
      kind: Type.String({
        description:
          'no-template, undefined-variable, parse, limit-exceeded, output-too-large or error',
      }),
      message: Type.String(),
      part: Type.Optional(Type.String({ description: 'subject, title or body' })),
      line: Type.Optional(Type.Integer()),
      col: Type.Optional(Type.Integer()),
    }),
    Type.Null(),
  ]),
});

/** Sample readers are named in their language. */
const sampleReader = (locale: string): PreviewReader => ({
  name: locale.startsWith('zh') ? '预览用户' : 'Preview User',
  externalId: 'preview',
  locale,
});

/** The console's message preview: what each channel would carry, in each language. */
export function messagePreviewRoutes(
  app: Server,
  deps: { db: Db; guards: AuthGuards; renderer: TemplateRenderer },
): void {
  const { db, guards, renderer } = deps;

  app.post(
    '/v1/messages/preview',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['console'],
        summary: 'Render a message per channel × language before sending it',
        description:
          "Renders the current templates exactly as deliveries would (same locale chain, variables and time zone). A missing template or one that fails with this data is that item's `error` (with part, line and column), not a failed request; `ok` is true when every item rendered.",
        body: PreviewBody,
        response: {
          200: Type.Object({
            ok: Type.Boolean({ description: 'Every item rendered' }),
            items: Type.Array(PreviewItemSchema, {
              description: 'By channel, then language',
            }),
          }),
          ...problemResponses,
          422: ProblemSchema,
        },
      },
    },
    async (request) => {
      const body = request.body;
      const category = await getCategory(db, body.category);
      if (!category) {
        throw new Problem('unknown-category', `There is no category "${body.category}"`);
      }
      const channels = (body.channels ?? category.defaultChannels) as readonly Channel[];
      let source = { key: 'preview', name: 'Preview' };
      if (body.source !== undefined) {
        const s = await getSourceByKey(db, body.source);
        if (!s) throw new Problem('unknown-source', `There is no source "${body.source}"`);
        source = { key: s.key, name: s.name };
      }
      const locales = body.locales?.map((tag, i) => {
        const c = canonicalLocale(tag);
        if (!c) {
          throw new Problem('validation-failed', `"${tag}" is not a locale such as zh-CN or en`, {
            errors: [{ path: `body/locales/${i}`, message: 'is not a locale' }],
          });
        }
        return c;
      });
      let readers: PreviewReader[];
      if (body.recipient !== undefined) {
        const user = await getUserByExternalId(db, body.recipient);
        if (!user) {
          throw new Problem('unknown-recipients', `Unknown users ${body.recipient}`, {
            unknownUsers: [body.recipient],
            unknownGroups: [],
          });
        }
        const reader = {
          name: user.name,
          externalId: user.externalId,
          locale: user.locale,
          timezone: user.timezone,
        };
        readers = (locales ?? [user.locale]).map((locale) => ({ ...reader, locale }));
      } else {
        const found = locales ?? (await templateLocales(db, category.key, channels));
        readers = (found.length > 0 ? found : ['zh-CN']).map(sampleReader);
      }
      const items = await previewMessage(db, renderer, {
        category: category.key,
        data: body.data ?? {},
        channels: [...new Set(channels)],
        messageLocale: body.locale ?? null,
        source,
        readers: [...new Map(readers.map((r) => [r.locale, r])).values()],
      });
      return { ok: items.every((i) => i.error === null), items };
    },
  );
}
