import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Server } from '../http/server-types.js';
import { Problem } from '../http/problem.js';
import { ProblemSchema } from '../http/schemas.js';
import type { Metrics } from './metrics.js';

export function opsRoutes(
  app: Server,
  deps: { db: Db; metrics: Metrics; isReady: () => boolean },
): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database answers and workers have started',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ready') }), 503: ProblemSchema },
      },
    },
    async () => {
      if (!deps.isReady())
        throw new Problem('unavailable', 'Starting up', {}, { 'Retry-After': '1' });
      try {
        await sql`select 1`.execute(deps.db);
      } catch {
        throw new Problem(
          'unavailable',
          'The database does not answer',
          {},
          { 'Retry-After': '5' },
        );
      }
      return { status: 'ready' as const };
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['operations'], summary: 'Prometheus metrics', security: [] } },
    async (_request, reply) => {
      const { contentType, text } = await deps.metrics.expose();
      reply.type(contentType);
      return text;
    },
  );
}
