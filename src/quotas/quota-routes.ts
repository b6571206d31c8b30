import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { notFound } from '../http/problem.js';
import { problemResponses } from '../http/schemas.js';
import { getSourceByKey } from '../sources/sources-store.js';
import { usageOn } from './quota-usage-store.js';
import { nextQuotaReset, quotaDay } from './quota-day.js';

const UsageSchema = Type.Object(
  {
    source: Type.String(),
    day: Type.String({ description: 'The quota day, YYYY-MM-DD in the campus timezone' }),
    timezone: Type.String({ examples: ['Asia/Shanghai'] }),
    resetsAt: Type.String({ format: 'date-time', description: 'Next campus midnight' }),
    channels: Type.Record(
      Type.String(),
      Type.Object({
        limit: Type.Integer(),
        used: Type.Integer({ description: 'Deliveries charged today' }),
        remaining: Type.Integer(),
      }),
      { description: 'Per channel the source has a quota on (other channels are unlimited)' },
    ),
  },
  { description: "Today's use of a source's daily quotas" },
);

export interface QuotaRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly guards: AuthGuards;
  /** The campus timezone (config.timezone): where quota days begin and end. */
  readonly timezone: string;
}

/** `GET /v1/sources/{key}/quota-usage`: for the admin, and for a source about itself. */
export function quotaRoutes(app: Server, deps: QuotaRoutesDeps): void {
  const { db, guards, timezone } = deps;
  app.get(
    '/v1/sources/:key/quota-usage',
    {
      onRequest: guards.sourceOrAdmin,
      schema: {
        tags: ['sources'],
        summary: "Today's use of a source's daily quotas, per channel, and when they reset",
        params: Type.Object({ key: Type.String() }),
        response: { 200: UsageSchema, ...problemResponses },
      },
    },
    async (request) => {
      const principal = request.principal!;
      const { key } = request.params;
      // A source sees only itself, and cannot tell whether other keys exist.
      if (principal.kind === 'source' && principal.sourceKey !== key) {
        throw notFound(`Source ${key}`);
      }
      const source = await getSourceByKey(db, key);
      if (!source) throw notFound(`Source ${key}`);
      const now = deps.clock();
      const day = quotaDay(now, timezone);
      const limited = Object.entries(source.quotas);
      const usage = (
        await usageOn(
          db,
          [source.id],
          limited.map(([c]) => c),
          day,
        )
      ).get(source.id);
      const channels: Record<string, { limit: number; used: number; remaining: number }> = {};
      for (const [channel, limit] of limited) {
        const used = usage?.get(channel) ?? 0;
        channels[channel] = { limit, used, remaining: Math.max(0, limit - used) };
      }
      return {
        source: source.key,
        day,
        timezone,
        resetsAt: new Date(nextQuotaReset(now, timezone)).toISOString(),
        channels,
      };
    },
  );
}
