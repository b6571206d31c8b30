import {
  sql,
  type Expression,
  type ExpressionBuilder,
  type Insertable,
  type Selectable,
  type SqlBool,
} from 'kysely';
import type { Db, Tx } from '../store/database.js';
import type { Database, UsersTable } from '../store/schema.js';
import { newId } from '../store/ids.js';
import { sqlDialectOf, type SqlDialect } from '../store/sql-dialect.js';
import type { AudienceFilter, Recipient } from './audience-types.js';

export const DEFAULT_LOCALE = 'zh-CN';
export const DEFAULT_TIMEZONE = 'Asia/Shanghai';

export type UserRow = Selectable<UsersTable>;

/** A user as the API shows it: a recipient plus directory data. The password hash never leaves the store. */
export interface User extends Recipient {
  readonly roles: string[];
  readonly orgPath: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly hasPassword: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * One user to create or update, already validated (see users-import.ts). On update an
 * omitted (undefined) field keeps its stored value and null clears it (locale and timezone
 * fall back to the defaults); on create omitted means empty or default. Given `roles` and
 * `attributes` replace the stored ones as a whole.
 */
export interface UserInput {
  readonly externalId: string;
  readonly name: string;
  readonly roles?: readonly string[] | undefined;
  readonly orgPath?: string | null | undefined;
  readonly attributes?: Readonly<Record<string, string>> | null | undefined;
  readonly locale?: string | null | undefined;
  readonly timezone?: string | null | undefined;
  readonly email?: string | null | undefined;
  readonly phone?: string | null | undefined;
  readonly wechatOpenId?: string | null | undefined;
  readonly wecomUserId?: string | null | undefined;
  readonly dingtalkUserId?: string | null | undefined;
  readonly feishuUserId?: string | null | undefined;
  /** Output of `hashPassword`; undefined keeps the current hash (or none). */
  readonly passwordHash?: string | undefined;
}

export type UpsertOutcome = 'created' | 'updated';

// 500 users × 15 columns stays far below every dialect's bound-parameter limit.
const USER_BATCH = 500;
const LINK_BATCH = 2000;

/**
 * Creates or updates users by external id, all in ONE transaction (joins the caller's when
 * `db` is one), with multi-row statements. Returns, per input in order, whether it created or
 * updated the user. External ids must be unique within one call.
 */
export async function upsertUsers(
  db: Db,
  users: readonly UserInput[],
  now: number,
): Promise<UpsertOutcome[]> {
  const seen = new Set<string>();
  for (const u of users) {
    if (seen.has(u.externalId))
      throw new Error(`upsertUsers: external id "${u.externalId}" appears twice`);
    seen.add(u.externalId);
  }
  if (users.length === 0) return [];
  const run = async (tx: Tx): Promise<UpsertOutcome[]> => {
    const out: UpsertOutcome[] = [];
    for (let i = 0; i < users.length; i += USER_BATCH) {
      out.push(...(await upsertBatch(tx, users.slice(i, i + USER_BATCH), now)));
    }
    return out;
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

function pick<T>(given: T | null | undefined, stored: T | undefined, fallback: T): T {
  if (given === undefined) return stored === undefined ? fallback : stored;
  return given === null ? fallback : given;
}

function mergeRow(u: UserInput, old: UserRow | undefined, now: number): Insertable<UsersTable> {
  const attributes =
    u.attributes === undefined ? (old?.attributes ?? '{}') : JSON.stringify(u.attributes ?? {});
  return {
    id: old?.id ?? newId(now),
    external_id: u.externalId,
    name: u.name,
    org_path: pick(u.orgPath, old?.org_path, ''),
    attributes,
    locale: pick(u.locale, old?.locale, DEFAULT_LOCALE),
    timezone: pick(u.timezone, old?.timezone, DEFAULT_TIMEZONE),
    email: pick(u.email, old?.email, null),
    phone: pick(u.phone, old?.phone, null),
    wechat_open_id: pick(u.wechatOpenId, old?.wechat_open_id, null),
    wecom_user_id: pick(u.wecomUserId, old?.wecom_user_id, null),
    dingtalk_user_id: pick(u.dingtalkUserId, old?.dingtalk_user_id, null),
    feishu_user_id: pick(u.feishuUserId, old?.feishu_user_id, null),
    password_hash: u.passwordHash ?? old?.password_hash ?? null,
    created_at: old ? Number(old.created_at) : now,
    updated_at: now,
  };
}

async function upsertBatch(
  tx: Tx,
  batch: readonly UserInput[],
  now: number,
): Promise<UpsertOutcome[]> {
  const existing = await tx
    .selectFrom('users')
    .selectAll()
    .where(
      'external_id',
      'in',
      batch.map((u) => u.externalId),
    )
    .execute();
  const byExternalId = new Map(existing.map((r) => [r.external_id, r]));
  const rows = batch.map((u) => mergeRow(u, byExternalId.get(u.externalId), now));

  // `returning` gives the ids actually stored, even if a concurrent writer created a row
  // between our read and this statement (then ON CONFLICT updates theirs).
  const stored = await tx
    .insertInto('users')
    .values(rows)
    .onConflict((oc) =>
      oc.column('external_id').doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'),
        org_path: eb.ref('excluded.org_path'),
        attributes: eb.ref('excluded.attributes'),
        locale: eb.ref('excluded.locale'),
        timezone: eb.ref('excluded.timezone'),
        email: eb.ref('excluded.email'),
        phone: eb.ref('excluded.phone'),
        wechat_open_id: eb.ref('excluded.wechat_open_id'),
        wecom_user_id: eb.ref('excluded.wecom_user_id'),
        dingtalk_user_id: eb.ref('excluded.dingtalk_user_id'),
        feishu_user_id: eb.ref('excluded.feishu_user_id'),
        password_hash: eb.ref('excluded.password_hash'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .returning(['id', 'external_id'])
    .execute();
  const idOf = new Map(stored.map((r) => [r.external_id, r.id]));
  const outcomes = rows.map((r): UpsertOutcome =>
    idOf.get(r.external_id) === r.id && !byExternalId.has(r.external_id) ? 'created' : 'updated',
  );

  const withRoles = batch.filter((u) => u.roles !== undefined);
  const withAttributes = batch.filter((u) => u.attributes !== undefined);
  const userId = (u: UserInput): string => idOf.get(u.externalId)!;

  for (const ids of chunks(withRoles.map(userId), LINK_BATCH)) {
    await tx.deleteFrom('user_roles').where('user_id', 'in', ids).execute();
  }
  const roleRows = withRoles.flatMap((u) =>
    [...new Set(u.roles)].map((role) => ({ user_id: userId(u), role })),
  );
  for (const part of chunks(roleRows, LINK_BATCH)) {
    await tx.insertInto('user_roles').values(part).execute();
  }

  for (const ids of chunks(withAttributes.map(userId), LINK_BATCH)) {
    await tx.deleteFrom('user_attributes').where('user_id', 'in', ids).execute();
  }
  const attributeRows = withAttributes.flatMap((u) =>
    Object.entries(u.attributes ?? {}).map(([key, value]) => ({ user_id: userId(u), key, value })),
  );
  for (const part of chunks(attributeRows, LINK_BATCH)) {
    await tx.insertInto('user_attributes').values(part).execute();
  }
  return outcomes;
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

export async function getUserByExternalId(db: Db, externalId: string): Promise<User | null> {
  const row = await db
    .selectFrom('users')
    .selectAll()
    .where('external_id', '=', externalId)
    .executeTakeFirst();
  return row ? (await toUsers(db, [row]))[0]! : null;
}

export async function getUserById(db: Db, id: string): Promise<User | null> {
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? (await toUsers(db, [row]))[0]! : null;
}

/** Internal ids of the given external ids that exist (unknown ones are absent from the map). */
export async function userIdsByExternalId(
  db: Db,
  externalIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const part of chunks([...new Set(externalIds)], LINK_BATCH)) {
    const rows = await db
      .selectFrom('users')
      .select(['id', 'external_id'])
      .where('external_id', 'in', part)
      .execute();
    for (const r of rows) found.set(r.external_id, r.id);
  }
  return found;
}

/** Recipients by internal user id (deliveries refer to users by id); deleted users are absent. */
export async function recipientsByIds(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, Recipient>> {
  const found = new Map<string, Recipient>();
  for (const part of chunks([...new Set(ids)], LINK_BATCH)) {
    const rows = await db.selectFrom('users').selectAll().where('id', 'in', part).execute();
    for (const r of rows) found.set(r.id, toRecipient(r));
  }
  return found;
}

export interface ListUsersOptions {
  readonly limit: number;
  /** Cursor: the last external id of the previous page. */
  readonly after?: string | undefined;
  /** Substring of the name or the external id. */
  readonly q?: string | undefined;
  readonly orgPrefix?: string | undefined;
  readonly role?: string | undefined;
}

export interface UserPage {
  readonly items: User[];
  /** Pass as `after` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** Users in external-id order, keyset-paginated (stable while users are added or removed). */
export async function listUsers(db: Db, opts: ListUsersOptions): Promise<UserPage> {
  let query = db.selectFrom('users').selectAll();
  if (opts.after !== undefined) query = query.where('external_id', '>', opts.after);
  const q = opts.q?.trim();
  if (q) {
    const pattern = `%${q.replace(/[\\%_]/g, '\\$&')}%`;
    // Case-insensitive on every dialect (SQLite's LIKE is for ASCII, PostgreSQL's is not).
    const like = sql.raw(sqlDialectOf(db).caseInsensitiveLike);
    query = query.where((eb) =>
      eb.or([
        sql<SqlBool>`${eb.ref('users.name')} ${like} ${pattern} escape '\\'`,
        sql<SqlBool>`${eb.ref('users.external_id')} ${like} ${pattern} escape '\\'`,
      ]),
    );
  }
  const filter: AudienceFilter = {
    ...(opts.role ? { roles: [opts.role] } : {}),
    ...(opts.orgPrefix !== undefined ? { orgPrefix: opts.orgPrefix } : {}),
  };
  if (filterConstrains(filter)) {
    const dialect = sqlDialectOf(db);
    query = query.where((eb) => userFilterCondition(eb, filter, dialect));
  }
  const rows = await query
    .orderBy('external_id')
    .limit(opts.limit + 1)
    .execute();
  const page = rows.slice(0, opts.limit);
  return {
    items: await toUsers(db, page),
    nextCursor: rows.length > opts.limit ? page[page.length - 1]!.external_id : null,
  };
}

/** Deletes a user; roles, attributes, group memberships, preferences and sessions go with it. */
export async function deleteUser(db: Db, externalId: string): Promise<boolean> {
  const res = await db.deleteFrom('users').where('external_id', '=', externalId).executeTakeFirst();
  return res.numDeletedRows > 0n;
}

export function toRecipient(row: UserRow): Recipient {
  return {
    id: row.id,
    externalId: row.external_id,
    name: row.name,
    locale: row.locale,
    timezone: row.timezone,
    email: row.email,
    phone: row.phone,
    wechatOpenId: row.wechat_open_id,
    wecomUserId: row.wecom_user_id,
    dingtalkUserId: row.dingtalk_user_id,
    feishuUserId: row.feishu_user_id,
  };
}

/** API view of rows, with their roles (one extra query for the whole list). */
export async function toUsers(db: Db, rows: readonly UserRow[]): Promise<User[]> {
  const roles = new Map<string, string[]>();
  for (const ids of chunks(
    rows.map((r) => r.id),
    LINK_BATCH,
  )) {
    const found = await db
      .selectFrom('user_roles')
      .select(['user_id', 'role'])
      .where('user_id', 'in', ids)
      .orderBy('role')
      .execute();
    for (const r of found) {
      const list = roles.get(r.user_id);
      if (list) list.push(r.role);
      else roles.set(r.user_id, [r.role]);
    }
  }
  return rows.map((r) => ({
    id: r.id,
    externalId: r.external_id,
    name: r.name,
    roles: roles.get(r.id) ?? [],
    orgPath: r.org_path,
    attributes: JSON.parse(r.attributes) as Record<string, string>,
    locale: r.locale,
    timezone: r.timezone,
    email: r.email,
    phone: r.phone,
    wechatOpenId: r.wechat_open_id,
    wecomUserId: r.wecom_user_id,
    dingtalkUserId: r.dingtalk_user_id,
    feishuUserId: r.feishu_user_id,
    hasPassword: r.password_hash !== null,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }));
}

/** `"农学院/ "` → `"农学院"`: trimmed, without trailing slashes; '' means no constraint. */
export function normalizeOrgPrefix(prefix: string): string {
  return prefix.trim().replace(/\/+$/, '').trim();
}

/**
 * The org units a filter names (`orgPrefix` and `orgPrefixes` together), normalised, without
 * blanks and repeats, in the order given. Empty: the filter has no org part.
 */
export function orgUnitsOf(f: AudienceFilter): string[] {
  const all = [...(f.orgPrefix === undefined ? [] : [f.orgPrefix]), ...(f.orgPrefixes ?? [])];
  return [...new Set(all.map(normalizeOrgPrefix).filter((p) => p !== ''))];
}

/** Whether a filter constrains anything. A filter that does not selects nobody. */
export function filterConstrains(f: AudienceFilter): boolean {
  return (
    (f.roles?.length ?? 0) > 0 ||
    orgUnitsOf(f).length > 0 ||
    Object.keys(f.attributes ?? {}).length > 0
  );
}

/**
 * SQL for "this user matches the filter": any of the roles, AND at or below any of the org
 * units, AND all attribute values. A filter that constrains nothing matches nobody, so an empty or
 * mistyped filter can never become a broadcast (`all: true` is the way to reach everyone).
 *
 * Each list travels as one bound parameter (`SqlDialect.stringTable`), however long (the org
 * units as at most LOOKUP_LENGTHS): a filter costs at most a dozen parameters, so an audience
 * of 100 dynamic groups of 100 units each stays far below every dialect's limit.
 */
export function userFilterCondition(
  eb: ExpressionBuilder<Database, 'users'>,
  f: AudienceFilter,
  dialect: SqlDialect,
): Expression<SqlBool> {
  if (!filterConstrains(f)) return sql<SqlBool>`1 = 0`;
  const parts: Expression<SqlBool>[] = [];
  if (f.roles && f.roles.length > 0) {
    const roles = dialect.stringTable([...new Set(f.roles)], 'wanted_role');
    parts.push(
      eb.exists(
        eb
          .selectFrom('user_roles')
          .select(sql`1`.as('one'))
          .whereRef('user_roles.user_id', '=', 'users.id')
          .where(sql<SqlBool>`user_roles.role in (select wanted_role.value from ${roles})`),
      ),
    );
  }
  const units = orgUnitsOf(f);
  if (units.length > 0) parts.push(atOrBelowAny(units, dialect));
  const attributes = Object.entries(f.attributes ?? {});
  if (attributes.length > 0) {
    // All of them: no wanted (key, value) pair that the user lacks.
    const wanted = dialect.stringPairTable(Object.fromEntries(attributes), 'wanted');
    parts.push(
      sql<SqlBool>`not exists (select 1 from ${wanted} where not exists (select 1 from user_attributes where user_attributes.user_id = users.id and user_attributes.key = wanted.key and user_attributes.value = wanted.value))`,
    );
  }
  return eb.and(parts);
}

/** Up to this many distinct unit lengths, org units are matched by lookups (see atOrBelowAny). */
const LOOKUP_LENGTHS = 8;

/**
 * "users.org_path is one of the units or below one of them": org_path + '/' starts with
 * unit + '/', so "农学院" never matches "农学院二部". substr and length count characters on
 * both SQLite and PostgreSQL; no LIKE wildcard or case folding applies. Several units are a
 * union: a user matches once whichever units hold them.
 *
 * Units of few distinct lengths (the usual case: classes of one college) are matched by a
 * lookup per length: org_path + '/' cut at that length, in the set of units + '/' that the
 * database builds once per statement. Otherwise each user's path is compared with each unit.
 */
function atOrBelowAny(units: readonly string[], dialect: SqlDialect): Expression<SqlBool> {
  const below = units.map((unit) => `${unit}/`);
  const lengths = [...new Set(below.map((b) => [...b].length))].sort((a, b) => a - b);
  if (lengths.length <= LOOKUP_LENGTHS) {
    const cuts = lengths.map(
      (n) =>
        sql<SqlBool>`substr(users.org_path || '/', 1, ${sql.lit(n)}) in (select unit.value from ${dialect.stringTable(below, 'unit')})`,
    );
    return sql<SqlBool>`(${sql.join(cuts, sql` or `)})`;
  }
  return sql<SqlBool>`exists (select 1 from ${dialect.stringTable(below, 'unit')} where substr(users.org_path || '/', 1, length(unit.value)) = unit.value)`;
}
