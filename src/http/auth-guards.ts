import type { FastifyRequest } from 'fastify';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import { sameDigest, sha256 } from '../auth/secrets.js';
import { apiKeyPrefix, findApiKey, getSourceById, touchApiKey } from '../sources/sources-store.js';
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

export interface AuthGuards {
  admin(request: FastifyRequest): Promise<void>;
  source(request: FastifyRequest): Promise<void>;
  user(request: FastifyRequest): Promise<void>;
  /** A source (sees its own things) or the admin (sees everything). */
  sourceOrAdmin(request: FastifyRequest): Promise<void>;
}

/**
 * onRequest hooks that establish `request.principal`, before the body is even parsed. Wrong kind of credential → 403 (it was
 * valid, just not for this route); missing or unknown → 401 with the same body every time.
 */
export function authGuards(db: Db, adminTokenHash: () => string, clock: Clock): AuthGuards {
  // lastUsedAt is written at most once a minute per key: a write per request would cost a commit.
  const touched = new Map<string, number>();
  const touch = (prefix: string) => {
    const now = clock();
    if (now - (touched.get(prefix) ?? 0) < 60_000) return;
    touched.set(prefix, now);
    touchApiKey(db, prefix, now).catch(() => touched.delete(prefix));
  };
  async function identify(request: FastifyRequest): Promise<Principal | null> {
    const token = bearer(request) ?? request.cookies?.[SESSION_COOKIE] ?? null;
    if (!token) return null;
    if (token.startsWith('hk_')) {
      const prefix = apiKeyPrefix(token);
      if (!prefix) return null;
      const key = await findApiKey(db, prefix);
      if (!key || key.revoked || !sameDigest(key.hash, sha256(token))) return null;
      const source = await getSourceById(db, key.sourceId);
      if (!source) return null;
      touch(prefix);
      return {
        kind: 'source',
        sourceId: source.id,
        sourceKey: source.key,
        categories: source.categories,
        quotas: source.quotas,
      };
    }
    if (token.startsWith('hs_')) {
      const session = await findSession(db, sha256(token), clock());
      return session ? { kind: 'user', userId: session.userId } : null;
    }
    return sameDigest(sha256(token), adminTokenHash()) ? { kind: 'admin' } : null;
  }

  const needs: Record<Principal['kind'], string> = {
    admin: 'the admin token',
    source: 'a source API key',
    user: 'a user session',
  };
  function guard(...kinds: Principal['kind'][]) {
    return async (request: FastifyRequest): Promise<void> => {
      const principal = await identify(request);
      if (!principal) throw unauthenticated();
      if (!kinds.includes(principal.kind)) {
        throw new Problem(
          'forbidden',
          `This route needs ${kinds.map((k) => needs[k]).join(' or ')}`,
        );
      }
      request.principal = principal;
    };
  }
  return {
    admin: guard('admin'),
    source: guard('source'),
    user: guard('user'),
    sourceOrAdmin: guard('source', 'admin'),
  };
}
