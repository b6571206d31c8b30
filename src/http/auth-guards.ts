import type { FastifyRequest } from 'fastify';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import { sameDigest, sha256 } from '../auth/secrets.js';
import { apiKeyPrefix, touchApiKey } from '../sources/sources-store.js';
import { ApiKeyCache } from '../sources/api-key-cache.js';
import { findSession } from '../auth/sessions-store.js';
import { Problem } from './problem.js';
import type { Principal } from './server-types.js';

export const SESSION_COOKIE = 'herald_session';

function bearer(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}

const unauthenticated = () =>
  new Problem(
    'unauthenticated',
    'Send a valid token as "Authorization: Bearer <token>"',
    {},
    {
      'WWW-Authenticate': 'Bearer realm="herald"',
    },
  );

/**
 * An operator's browser sends the session cookie with every request to Herald, also with
 * requests another site's page makes it send. SameSite=Lax keeps the cookie off cross-site
 * POSTs, but not off those from a sibling subdomain of the campus. So a change made with the
 * admin rights of a cookie must come from a page of Herald's own origin: browsers name the
 * page's origin in `Origin` on every such request, and it has to match the host addressed.
 */
function refuseCrossSite(request: FastifyRequest): void {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
  const origin = request.headers.origin;
  if (origin === undefined) return; // not sent by a browser page
  let host: string | null = null;
  try {
    host = new URL(origin).host;
  } catch {
    host = null;
  }
  if (host !== request.host) {
    throw new Problem(
      'forbidden',
      "Admin changes with a session cookie must come from Herald's own pages (Origin does not match)",
    );
  }
}

export interface AuthGuards {
  /** The admin token, or the session of an operator (a user with OPERATOR_ROLE). */
  admin(request: FastifyRequest): Promise<void>;
  source(request: FastifyRequest): Promise<void>;
  user(request: FastifyRequest): Promise<void>;
  /** A source (sees its own things) or the admin or an operator (see everything). */
  sourceOrAdmin(request: FastifyRequest): Promise<void>;
  /**
   * The API keys and sources the source guard has cached: call `invalidate()` after revoking a
   * key or changing or deleting a source, before answering.
   */
  readonly apiKeys: ApiKeyCache;
}

/**
 * onRequest hooks that establish `request.principal`, before the body is even parsed. Wrong kind of credential → 403 (it was
 * valid, just not for this route); missing or unknown → 401 with the same body every time.
 */
export function authGuards(
  db: Db,
  adminTokenHash: () => string,
  clock: Clock,
  apiKeys: ApiKeyCache = new ApiKeyCache({ db }),
): AuthGuards {
  // lastUsedAt is written at most once a minute per key: a write per request would cost a commit.
  const touched = new Map<string, number>();
  const touch = (prefix: string) => {
    const now = clock();
    if (now - (touched.get(prefix) ?? 0) < 60_000) return;
    touched.set(prefix, now);
    touchApiKey(db, prefix, now).catch(() => touched.delete(prefix));
  };
  /**
   * Who the request is from. A user session counts as the admin when the route wants the
   * admin (and not a user) and the user is an operator (OPERATOR_ROLE); on user routes an
   * operator is the user they are.
   */
  async function identify(
    request: FastifyRequest,
    wantsAdmin: boolean,
  ): Promise<{ principal: Principal; viaCookie: boolean } | null> {
    const header = bearer(request);
    const token = header ?? request.cookies?.[SESSION_COOKIE] ?? null;
    if (!token) return null;
    const viaCookie = header === null;
    if (token.startsWith('hk_')) {
      const source = await apiKeys.sourceOf(token);
      if (!source) return null;
      touch(apiKeyPrefix(token)!);
      return {
        principal: {
          kind: 'source',
          sourceId: source.id,
          sourceKey: source.key,
          categories: source.categories,
          quotas: source.quotas,
        },
        viaCookie,
      };
    }
    if (token.startsWith('hs_')) {
      const session = await findSession(db, sha256(token), clock());
      if (!session) return null;
      if (wantsAdmin && session.operator) {
        const { userId, externalId, name } = session;
        return { principal: { kind: 'admin', operator: { userId, externalId, name } }, viaCookie };
      }
      return { principal: { kind: 'user', userId: session.userId }, viaCookie };
    }
    return sameDigest(sha256(token), adminTokenHash())
      ? { principal: { kind: 'admin' }, viaCookie }
      : null;
  }

  const needs: Record<Principal['kind'], string> = {
    admin: "the admin token or an operator's session",
    source: 'a source API key',
    user: 'a user session',
  };
  function guard(...kinds: Principal['kind'][]) {
    const wantsAdmin = kinds.includes('admin') && !kinds.includes('user');
    return async (request: FastifyRequest): Promise<void> => {
      const found = await identify(request, wantsAdmin);
      if (!found) throw unauthenticated();
      const { principal, viaCookie } = found;
      if (!kinds.includes(principal.kind)) {
        throw new Problem(
          'forbidden',
          `This route needs ${kinds.map((k) => needs[k]).join(' or ')}`,
        );
      }
      if (principal.kind === 'admin' && viaCookie) refuseCrossSite(request);
      request.principal = principal;
    };
  }
  return {
    admin: guard('admin'),
    source: guard('source'),
    user: guard('user'),
    sourceOrAdmin: guard('source', 'admin'),
    apiKeys,
  };
}
