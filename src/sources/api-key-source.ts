import type { Db } from '../store/database.js';
import { sameDigest, sha256 } from '../auth/secrets.js';
import { apiKeyPrefix, findApiKeyWithSource, type Source } from './sources-store.js';

/**
 * The source an API key (`hk_<prefix>_<secret>`) belongs to; null when the key is malformed,
 * unknown, revoked or its secret does not match (constant-time). Same rules as the HTTP
 * guard's, for doors that are not HTTP (the AMQP ingress), read from the database each time
 * (one round trip); the HTTP guard uses the cached `ApiKeyCache`.
 */
export async function sourceByApiKey(db: Db, token: string): Promise<Source | null> {
  const prefix = apiKeyPrefix(token);
  if (!prefix) return null;
  const key = await findApiKeyWithSource(db, prefix);
  if (!key || key.revoked || !sameDigest(key.hash, sha256(token))) return null;
  return key.source;
}
