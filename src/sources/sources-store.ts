import { randomBytes } from 'node:crypto';
import type { Db } from '../store/database.js';
import type { SourcesTable } from '../store/schema.js';
import { newId } from '../store/ids.js';
import { sha256 } from '../auth/secrets.js';
import { parseQuotas, type Quotas } from '../quotas/quotas.js';

export interface Source {
  readonly id: string;
  readonly key: string;
  readonly name: string;
  readonly categories: readonly string[];
  /** Deliveries allowed per channel per campus day; a channel absent is unlimited. */
  readonly quotas: Quotas;
  /** Email sender of this source's messages; null → the category's, else HERALD_SMTP_FROM. */
  readonly emailFrom: string | null;
  readonly emailReplyTo: string | null;
  /** RabbitMQ user whose broker-validated `user_id` names this source on the AMQP ingress. */
  readonly amqpUser: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ApiKeyInfo {
  readonly id: string;
  readonly prefix: string;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

type SourceRow = SourcesTable;

function toSource(r: SourceRow): Source {
  return {
    id: r.id,
    key: r.key,
    name: r.name,
    categories: JSON.parse(r.categories) as string[],
    quotas: parseQuotas(r.quotas),
    emailFrom: r.email_from,
    emailReplyTo: r.email_reply_to,
    amqpUser: r.amqp_user,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export async function listSources(db: Db): Promise<Source[]> {
  const rows = await db.selectFrom('sources').selectAll().orderBy('key').execute();
  return rows.map(toSource);
}

export async function getSourceByKey(db: Db, key: string): Promise<Source | null> {
  const row = await db.selectFrom('sources').selectAll().where('key', '=', key).executeTakeFirst();
  return row ? toSource(row) : null;
}

export async function getSourceById(db: Db, id: string): Promise<Source | null> {
  const row = await db.selectFrom('sources').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toSource(row) : null;
}

/** The source a RabbitMQ user publishes for (AMQP ingress), if one is mapped to it. */
export async function getSourceByAmqpUser(db: Db, user: string): Promise<Source | null> {
  const row = await db
    .selectFrom('sources')
    .selectAll()
    .where('amqp_user', '=', user)
    .executeTakeFirst();
  return row ? toSource(row) : null;
}

export async function insertSource(
  db: Db,
  input: {
    key: string;
    name: string;
    categories: readonly string[];
    quotas?: Quotas;
    emailFrom?: string | null;
    emailReplyTo?: string | null;
    amqpUser?: string | null;
  },
  now: number,
): Promise<Source> {
  const row: SourceRow = {
    id: newId(now),
    key: input.key,
    name: input.name,
    categories: JSON.stringify(input.categories),
    callback_url: null,
    callback_secret: null,
    callback_events: null,
    quotas: JSON.stringify(input.quotas ?? {}),
    email_from: input.emailFrom ?? null,
    email_reply_to: input.emailReplyTo ?? null,
    amqp_user: input.amqpUser ?? null,
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('sources').values(row).execute();
  return toSource(row);
}

export async function updateSource(
  db: Db,
  key: string,
  patch: {
    name?: string;
    categories?: readonly string[];
    quotas?: Quotas;
    emailFrom?: string | null;
    emailReplyTo?: string | null;
    amqpUser?: string | null;
  },
  now: number,
): Promise<Source | null> {
  const res = await db
    .updateTable('sources')
    .set({
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.categories !== undefined ? { categories: JSON.stringify(patch.categories) } : {}),
      ...(patch.quotas !== undefined ? { quotas: JSON.stringify(patch.quotas) } : {}),
      ...(patch.emailFrom !== undefined ? { email_from: patch.emailFrom } : {}),
      ...(patch.emailReplyTo !== undefined ? { email_reply_to: patch.emailReplyTo } : {}),
      ...(patch.amqpUser !== undefined ? { amqp_user: patch.amqpUser } : {}),
      updated_at: now,
    })
    .where('key', '=', key)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n ? getSourceByKey(db, key) : null;
}

export async function deleteSource(db: Db, key: string): Promise<'deleted' | 'missing' | 'in-use'> {
  const source = await getSourceByKey(db, key);
  if (!source) return 'missing';
  const used = await db
    .selectFrom('messages')
    .select('id')
    .where('source_id', '=', source.id)
    .limit(1)
    .executeTakeFirst();
  if (used) return 'in-use';
  await db.deleteFrom('sources').where('id', '=', source.id).execute();
  return 'deleted';
}

/** Creates an API key; the secret is returned here once and only its hash is stored. */
export async function createApiKey(
  db: Db,
  sourceId: string,
  now: number,
): Promise<{ info: ApiKeyInfo; secret: string }> {
  const prefix = randomBytes(6).toString('hex');
  const secret = `hk_${prefix}_${randomBytes(32).toString('base64url')}`;
  const id = newId(now);
  await db
    .insertInto('api_keys')
    .values({
      id,
      source_id: sourceId,
      prefix,
      hash: sha256(secret),
      created_at: now,
      revoked_at: null,
      last_used_at: null,
    })
    .execute();
  return { info: { id, prefix, createdAt: now, revokedAt: null, lastUsedAt: null }, secret };
}

export async function listApiKeys(db: Db, sourceId: string): Promise<ApiKeyInfo[]> {
  const rows = await db
    .selectFrom('api_keys')
    .selectAll()
    .where('source_id', '=', sourceId)
    .orderBy('created_at')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  }));
}

export async function revokeApiKey(
  db: Db,
  sourceId: string,
  keyId: string,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('id', '=', keyId)
    .where('source_id', '=', sourceId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** Splits `hk_<prefix>_<secret>`; null when the shape is wrong. */
export function apiKeyPrefix(secret: string): string | null {
  const m = /^hk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/.exec(secret);
  return m ? m[1]! : null;
}

export async function findApiKey(
  db: Db,
  prefix: string,
): Promise<{ sourceId: string; hash: string; revoked: boolean } | null> {
  const row = await db
    .selectFrom('api_keys')
    .select(['source_id', 'hash', 'revoked_at'])
    .where('prefix', '=', prefix)
    .executeTakeFirst();
  return row ? { sourceId: row.source_id, hash: row.hash, revoked: row.revoked_at !== null } : null;
}

/** An API key's row with its source, as authentication needs them. */
export interface ApiKeyWithSource {
  readonly sourceId: string;
  readonly hash: string;
  readonly revoked: boolean;
  readonly source: Source;
}

/** The key with this prefix and its source, in one round trip; null when there is none. */
export async function findApiKeyWithSource(
  db: Db,
  prefix: string,
): Promise<ApiKeyWithSource | null> {
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('sources', 'sources.id', 'api_keys.source_id')
    .selectAll('sources')
    .select(['api_keys.hash as key_hash', 'api_keys.revoked_at as key_revoked_at'])
    .where('api_keys.prefix', '=', prefix)
    .executeTakeFirst();
  if (!row) return null;
  const { key_hash, key_revoked_at, ...source } = row;
  return {
    sourceId: source.id,
    hash: key_hash,
    revoked: key_revoked_at !== null,
    source: toSource(source),
  };
}

/** Sources by id, in one query (ids that name none are left out). */
export async function getSourcesByIds(db: Db, ids: Iterable<string>): Promise<Map<string, Source>> {
  const wanted = [...new Set(ids)];
  const found = new Map<string, Source>();
  for (let i = 0; i < wanted.length; i += 500) {
    const rows = await db
      .selectFrom('sources')
      .selectAll()
      .where('id', 'in', wanted.slice(i, i + 500))
      .execute();
    for (const r of rows) found.set(r.id, toSource(r));
  }
  return found;
}

/** Records that a key was used (best effort; callers throttle it). */
export async function touchApiKey(db: Db, prefix: string, now: number): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: now })
    .where('prefix', '=', prefix)
    .execute();
}

/** Where a source's status callbacks go; the secret only for the sender, never for the API. */
export interface SourceCallback {
  readonly url: string;
  /** `whsec_…`; null only in a row written by hand (the API always sets one). */
  readonly secret: string | null;
  /** Event types wanted; null → all. */
  readonly events: readonly string[] | null;
}

function toCallback(r: Pick<SourceRow, 'callback_url' | 'callback_secret' | 'callback_events'>) {
  if (r.callback_url === null) return null;
  return {
    url: r.callback_url,
    secret: r.callback_secret,
    events: r.callback_events === null ? null : (JSON.parse(r.callback_events) as string[]),
  };
}

export async function getSourceCallback(db: Db, sourceId: string): Promise<SourceCallback | null> {
  const row = await db
    .selectFrom('sources')
    .select(['callback_url', 'callback_secret', 'callback_events'])
    .where('id', '=', sourceId)
    .executeTakeFirst();
  return row ? toCallback(row) : null;
}

/** The callbacks of several sources at once (sources without one are left out). */
export async function getSourceCallbacks(
  db: Db,
  sourceIds: readonly string[],
): Promise<Map<string, SourceCallback>> {
  const found = new Map<string, SourceCallback>();
  if (sourceIds.length === 0) return found;
  const rows = await db
    .selectFrom('sources')
    .select(['id', 'callback_url', 'callback_secret', 'callback_events'])
    .where('id', 'in', sourceIds)
    .where('callback_url', 'is not', null)
    .execute();
  for (const r of rows) {
    const cb = toCallback(r);
    if (cb) found.set(r.id, cb);
  }
  return found;
}

/** Every source with a callback and the event types it wants (null → all). */
export async function listCallbackSubscriptions(
  db: Db,
): Promise<{ sourceId: string; events: readonly string[] | null }[]> {
  const rows = await db
    .selectFrom('sources')
    .select(['id', 'callback_events'])
    .where('callback_url', 'is not', null)
    .execute();
  return rows.map((r) => ({
    sourceId: r.id,
    events: r.callback_events === null ? null : (JSON.parse(r.callback_events) as string[]),
  }));
}

/**
 * Sets a source's callback URL and event types. `newSecret` becomes the signing secret only
 * when the source has none yet (first set): `secretCreated` says whether it did, so the caller
 * shows it exactly once. Null when the source does not exist.
 */
export async function setSourceCallback(
  db: Db,
  sourceId: string,
  input: { url: string; events: readonly string[] | null },
  newSecret: string,
  now: number,
): Promise<{ secretCreated: boolean } | null> {
  return db.transaction().execute(async (tx) => {
    const res = await tx
      .updateTable('sources')
      .set({
        callback_url: input.url,
        callback_events: input.events === null ? null : JSON.stringify(input.events),
        updated_at: now,
      })
      .where('id', '=', sourceId)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) return null;
    const fresh = await tx
      .updateTable('sources')
      .set({ callback_secret: newSecret })
      .where('id', '=', sourceId)
      .where('callback_secret', 'is', null)
      .executeTakeFirst();
    return { secretCreated: fresh.numUpdatedRows > 0n };
  });
}

/** Replaces the signing secret of a source that has a callback; false when it has none. */
export async function rotateSourceCallbackSecret(
  db: Db,
  sourceId: string,
  newSecret: string,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('sources')
    .set({ callback_secret: newSecret, updated_at: now })
    .where('id', '=', sourceId)
    .where('callback_url', 'is not', null)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** Removes a source's callback, secret included; false when it had none. */
export async function clearSourceCallback(db: Db, sourceId: string, now: number): Promise<boolean> {
  const res = await db
    .updateTable('sources')
    .set({ callback_url: null, callback_secret: null, callback_events: null, updated_at: now })
    .where('id', '=', sourceId)
    .where('callback_url', 'is not', null)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}
