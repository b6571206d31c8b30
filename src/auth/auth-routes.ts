import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { Server } from '../http/server-types.js';
import { Problem } from '../http/problem.js';
import { ProblemSchema } from '../http/schemas.js';
import { SESSION_COOKIE } from '../http/auth-guards.js';
import { newToken, sha256, verifyPassword, hashPassword } from './secrets.js';
import { deleteSession, insertSession, isOperator } from './sessions-store.js';
import { OPERATOR_ROLE } from './operators.js';
import { LoginThrottle } from './login-throttle.js';

export interface AuthRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly sessionTtlMs: number;
  readonly secureCookies: boolean;
}

// Verifying against this keeps the time of "no such user" equal to "wrong password".
const dummyHash = hashPassword('not-a-real-password-just-timing');

export function authRoutes(app: Server, deps: AuthRoutesDeps): void {
  const throttle = new LoginThrottle(deps.clock);

  app.post(
    '/v1/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with a local account',
        description: `Returns a session token, accepted as \`Authorization: Bearer\` and set as an HttpOnly cookie (for browsers and EventSource). A user with the role \`${OPERATOR_ROLE}\` is an operator (\`user.operator: true\`): their session also opens the admin routes.`,
        security: [],
        body: Type.Object(
          {
            externalId: Type.String({ minLength: 1, maxLength: 64 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            token: Type.String(),
            expiresAt: Type.String(),
            user: Type.Object({
              externalId: Type.String(),
              name: Type.String(),
              locale: Type.String(),
              operator: Type.Boolean({
                description: `Holds the role ${OPERATOR_ROLE}: the session also opens the admin routes (the console)`,
              }),
            }),
          }),
          400: ProblemSchema,
          401: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const { externalId, password } = request.body;
      const wait = throttle.blockedFor(externalId, request.ip);
      if (wait > 0) {
        throw new Problem(
          'too-many-requests',
          'Too many failed logins; try again later',
          {},
          { 'Retry-After': String(Math.ceil(wait / 1000)) },
        );
      }
      const user = await deps.db
        .selectFrom('users')
        .select(['id', 'external_id', 'name', 'locale', 'password_hash'])
        .where('external_id', '=', externalId)
        .executeTakeFirst();
      const ok = await verifyPassword(password, user?.password_hash ?? (await dummyHash));
      if (!user || !user.password_hash || !ok) {
        throttle.failed(externalId, request.ip);
        throw new Problem('unauthenticated', 'Unknown account or wrong password');
      }
      throttle.succeeded(externalId, request.ip);
      const now = deps.clock();
      const token = newToken('hs');
      const expiresAt = now + deps.sessionTtlMs;
      await insertSession(deps.db, sha256(token), user.id, now, expiresAt);
      reply.setCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'lax',
        secure: deps.secureCookies,
        path: '/',
        expires: new Date(expiresAt),
      });
      return {
        token,
        expiresAt: new Date(expiresAt).toISOString(),
        user: {
          externalId: user.external_id,
          name: user.name,
          locale: user.locale,
          operator: await isOperator(deps.db, user.id),
        },
      };
    },
  );

  app.post(
    '/v1/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End the current session',
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const h = request.headers.authorization;
      const token = (h && /^Bearer\s+(hs_\S+)/i.exec(h)?.[1]) ?? request.cookies[SESSION_COOKIE];
      if (token) await deleteSession(deps.db, sha256(token));
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );
}
