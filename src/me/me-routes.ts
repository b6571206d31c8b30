import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { notFound } from '../http/problem.js';
import { problemResponses } from '../http/schemas.js';
import { getUserById } from '../recipients/users-store.js';

/**
 * Who the session belongs to: what the message center shows in its header after a reload
 * (the login answer is gone by then). Contact points are not here; the preferences view shows
 * them, masked.
 */
const MeSchema = Type.Object({
  externalId: Type.String({ description: '学号 or 工号' }),
  name: Type.String(),
  locale: Type.String({ description: 'Language of messages and of the message center' }),
  timezone: Type.String(),
  roles: Type.Array(Type.String()),
  orgPath: Type.String({ description: '学院/系/班级, empty when not set' }),
});

export interface MeRoutesDeps {
  readonly db: Db;
  readonly guards: AuthGuards;
}

export function meRoutes(app: Server, deps: MeRoutesDeps): void {
  app.get(
    '/v1/me',
    {
      onRequest: deps.guards.user,
      schema: {
        tags: ['preferences'],
        summary: 'The signed-in user',
        response: { 200: MeSchema, ...problemResponses },
      },
    },
    async (request) => {
      const user = await getUserById(deps.db, (request.principal as { userId: string }).userId);
      // The session outlived its user (deleted by an import or an admin).
      if (!user) throw notFound('User');
      return {
        externalId: user.externalId,
        name: user.name,
        locale: user.locale,
        timezone: user.timezone,
        roles: [...user.roles],
        orgPath: user.orgPath,
      };
    },
  );
}
