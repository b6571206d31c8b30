import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { Problem, notFound } from '../http/problem.js';
import { ChannelSchema, LocaleSchema, problemResponses, ProblemSchema } from '../http/schemas.js';
import { listCategories } from '../categories/categories-store.js';
import { getUserById } from '../recipients/users-store.js';
import { canonicalTimeZone } from '../time/time-zone.js';
import {
  putUserPreferences,
  setUserLocale,
  setUserTimezone,
  userPreferences,
  type CategoryPreference,
} from './preferences-store.js';
import { maskEmail, maskPhone } from './mask.js';

const PreferencesSchema = Type.Object({
  locale: Type.String(),
  timezone: Type.String({
    description: 'IANA time zone: where the message center shows times and templates format dates',
    examples: ['Asia/Shanghai'],
  }),
  contacts: Type.Object(
    {
      email: Type.Union([Type.String(), Type.Null()]),
      phone: Type.Union([Type.String(), Type.Null()]),
      wechat: Type.Boolean(),
      wecom: Type.Boolean(),
      dingtalk: Type.Boolean(),
      feishu: Type.Boolean(),
    },
    { description: 'Contact points on file, masked' },
  ),
  categories: Type.Array(
    Type.Object({
      key: Type.String(),
      name: Type.Record(Type.String(), Type.String()),
      mandatory: Type.Boolean({ description: 'Cannot be turned off (e.g. campus emergencies)' }),
      enabled: Type.Boolean(),
      channels: Type.Array(Type.String(), { description: 'Channels used for this category' }),
      defaultChannels: Type.Array(Type.String()),
      customized: Type.Boolean({ description: 'Whether the user chose the channels' }),
    }),
  ),
});

export interface PreferencesRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly guards: AuthGuards;
}

export function preferencesRoutes(app: Server, deps: PreferencesRoutesDeps): void {
  const { db, guards } = deps;

  async function view(userId: string) {
    const user = await getUserById(db, userId);
    if (!user) throw notFound('User');
    const prefs = new Map((await userPreferences(db, userId)).map((p) => [p.categoryKey, p]));
    const categories = await listCategories(db);
    return {
      locale: user.locale,
      timezone: user.timezone,
      contacts: {
        email: user.email ? maskEmail(user.email) : null,
        phone: user.phone ? maskPhone(user.phone) : null,
        wechat: !!user.wechatOpenId,
        wecom: !!user.wecomUserId,
        dingtalk: !!user.dingtalkUserId,
        feishu: !!user.feishuUserId,
      },
      categories: categories.map((c) => {
        const p = prefs.get(c.key);
        const customized = !c.mandatory && !!p && p.channels !== null;
        return {
          key: c.key,
          name: c.name,
          mandatory: c.mandatory,
          enabled: c.mandatory || !p || p.enabled,
          channels: customized ? p!.channels! : [...c.defaultChannels],
          defaultChannels: [...c.defaultChannels],
          customized,
        };
      }),
    };
  }

  app.get(
    '/v1/me/preferences',
    {
      onRequest: guards.user,
      schema: {
        tags: ['preferences'],
        summary: 'My notification preferences',
        response: { 200: PreferencesSchema, ...problemResponses },
      },
    },
    async (request) => view((request.principal as { userId: string }).userId),
  );

  app.put(
    '/v1/me/preferences',
    {
      onRequest: guards.user,
      schema: {
        tags: ['preferences'],
        summary: 'Change my language, time zone and per-category choices',
        description:
          'Categories not listed keep their settings. `channels: null` goes back to the category defaults. Mandatory categories cannot be turned off or narrowed (400 `validation-failed`). `timezone` must be an IANA name such as `Asia/Shanghai` (400 `validation-failed` otherwise); it is stored as spelled canonically.',
        body: Type.Object(
          {
            locale: Type.Optional(LocaleSchema),
            timezone: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 64,
                description: 'IANA time zone',
                examples: ['Asia/Shanghai'],
              }),
            ),
            categories: Type.Optional(
              Type.Array(
                Type.Object(
                  {
                    key: Type.String(),
                    enabled: Type.Optional(Type.Boolean()),
                    channels: Type.Optional(
                      Type.Union([Type.Array(ChannelSchema, { maxItems: 9 }), Type.Null()]),
                    ),
                  },
                  { additionalProperties: false },
                ),
                { maxItems: 200 },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: PreferencesSchema, ...problemResponses, 422: ProblemSchema },
      },
    },
    async (request) => {
      const me = (request.principal as { userId: string }).userId;
      const { locale, categories = [] } = request.body;
      let timezone: string | null = null;
      if (request.body.timezone !== undefined) {
        timezone = canonicalTimeZone(request.body.timezone);
        if (timezone === null) {
          const message = 'must be an IANA time zone such as "Asia/Shanghai"';
          throw new Problem(
            'validation-failed',
            `body/timezone ${message}: "${request.body.timezone}" is not one`,
            { errors: [{ path: 'body/timezone', message }] },
          );
        }
      }
      const known = new Map((await listCategories(db)).map((c) => [c.key, c]));
      const current = new Map((await userPreferences(db, me)).map((p) => [p.categoryKey, p]));
      const updates: CategoryPreference[] = [];
      for (const c of categories) {
        const category = known.get(c.key);
        if (!category) throw new Problem('unknown-category', `There is no category "${c.key}"`);
        if (
          category.mandatory &&
          (c.enabled === false || (c.channels !== undefined && c.channels !== null))
        ) {
          throw new Problem(
            'validation-failed',
            `"${c.key}" is mandatory: it cannot be turned off or limited to some channels`,
          );
        }
        const prior = current.get(c.key);
        updates.push({
          categoryKey: c.key,
          enabled: c.enabled ?? prior?.enabled ?? true,
          channels:
            c.channels === undefined
              ? (prior?.channels ?? null)
              : c.channels === null
                ? null
                : [...new Set(c.channels)],
        });
      }
      const now = deps.clock();
      await db.transaction().execute(async (tx) => {
        if (locale) await setUserLocale(tx, me, locale, now);
        if (timezone) await setUserTimezone(tx, me, timezone, now);
        await putUserPreferences(tx, me, updates, now);
      });
      return view(me);
    },
  );
}
