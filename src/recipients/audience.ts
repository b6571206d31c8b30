import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Db } from '../store/database.js';
import { sqlDialectOf, type SqlDialect } from '../store/sql-dialect.js';
import type { Database } from '../store/schema.js';
import type { Audience, AudienceFilter, Recipient } from './audience-types.js';
import {
  filterConstrains,
  toRecipient,
  userFilterCondition,
  userIdsByExternalId,
  type UserRow,
} from './users-store.js';

/** An audience with its groups looked up once: what the per-batch query is built from. */
interface ResolvedAudience {
  readonly all: boolean;
  readonly externalIds: readonly string[];
  readonly staticGroupIds: readonly string[];
  readonly filters: readonly AudienceFilter[];
}

/**
 * Looks the audience's groups up (unknown keys select nobody: check them first with
 * `checkAudience`). Dynamic groups contribute their filter, static ones their members.
 */
async function resolve(db: Db, audience: Audience): Promise<ResolvedAudience> {
  const keys = [...new Set(audience.groups ?? [])];
  const groups =
    keys.length === 0
      ? []
      : await db.selectFrom('groups').select(['id', 'filter']).where('key', 'in', keys).execute();
  const filters: AudienceFilter[] = [];
  if (audience.filter && filterConstrains(audience.filter)) filters.push(audience.filter);
  const staticGroupIds: string[] = [];
  for (const g of groups) {
    if (g.filter === null) staticGroupIds.push(g.id);
    else filters.push(JSON.parse(g.filter) as AudienceFilter);
  }
  return {
    all: audience.all === true,
    externalIds: [...new Set(audience.users ?? [])],
    staticGroupIds,
    filters: filters.filter(filterConstrains),
  };
}

/**
 * The union of the parts as one condition; no part → nobody. Its bound parameters stay a few
 * per filter whatever the lists' lengths (10,000 users, 100 groups of 100 org units each): the
 * lists travel as one parameter each (`SqlDialect.stringTable`).
 */
function condition(
  eb: ExpressionBuilder<Database, 'users'>,
  a: ResolvedAudience,
  dialect: SqlDialect,
): Expression<SqlBool> {
  if (a.all) return sql<SqlBool>`1 = 1`;
  const parts: Expression<SqlBool>[] = [];
  if (a.externalIds.length > 0) {
    const listed = dialect.stringTable(a.externalIds, 'listed');
    parts.push(sql<SqlBool>`users.external_id in (select listed.value from ${listed})`);
  }
  if (a.staticGroupIds.length > 0) {
    parts.push(
      eb.exists(
        eb
          .selectFrom('group_members')
          .select(sql`1`.as('one'))
          .whereRef('group_members.user_id', '=', 'users.id')
          .where('group_members.group_id', 'in', [...a.staticGroupIds]),
      ),
    );
  }
  for (const f of a.filters) parts.push(userFilterCondition(eb, f, dialect));
  return parts.length === 0 ? sql<SqlBool>`1 = 0` : eb.or(parts);
}

async function selectPage(
  db: Db,
  a: ResolvedAudience,
  after: string | undefined,
  limit: number,
): Promise<UserRow[]> {
  let query = db
    .selectFrom('users')
    .selectAll()
    .where((eb) => condition(eb, a, sqlDialectOf(db)));
  if (after !== undefined) query = query.where('users.id', '>', after);
  return query.orderBy('users.id').limit(limit).execute();
}

export interface StreamAudienceOptions {
  readonly batchSize: number;
  /** Resume after this user id (a fan-out's saved cursor). */
  readonly after?: string | undefined;
}

/**
 * Streams the audience in batches of users ordered by id, each user exactly once however
 * many parts select them. One query per batch, keyset-paginated, so memory is one batch
 * whatever the audience's size, and a fan-out can resume from the last id it finished.
 * Groups are looked up once at the start; a user added behind the cursor during the stream
 * is missed, one added ahead of it is included.
 *
 * `audience.users` and each filter's lists travel as one bound parameter each, so the query
 * stays small whatever the lists' lengths.
 */
export async function* streamAudience(
  db: Db,
  audience: Audience,
  opts: StreamAudienceOptions,
): AsyncGenerator<Recipient[]> {
  if (!(opts.batchSize >= 1)) throw new RangeError('streamAudience: batchSize must be at least 1');
  const resolved = await resolve(db, audience);
  let after = opts.after;
  for (;;) {
    const rows = await selectPage(db, resolved, after, opts.batchSize);
    if (rows.length === 0) return;
    yield rows.map(toRecipient);
    if (rows.length < opts.batchSize) return;
    after = rows[rows.length - 1]!.id;
  }
}

/** One page of the audience's users in id order, for listings (e.g. a group's members). */
export async function audiencePage(
  db: Db,
  audience: Audience,
  opts: { readonly limit: number; readonly after?: string | undefined },
): Promise<{ rows: UserRow[]; nextCursor: string | null }> {
  const rows = await selectPage(db, await resolve(db, audience), opts.after, opts.limit + 1);
  const page = rows.slice(0, opts.limit);
  return { rows: page, nextCursor: rows.length > opts.limit ? page[page.length - 1]!.id : null };
}

/** How many distinct users the audience selects (previews, member counts). */
export async function countAudience(db: Db, audience: Audience): Promise<number> {
  const resolved = await resolve(db, audience);
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
    .where((eb) => condition(eb, resolved, sqlDialectOf(db)))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** How many users of the audience each channel can reach: they have an address for it. */
export interface AudienceReach {
  readonly count: number;
  readonly email: number;
  readonly sms: number;
  readonly wechat: number;
  readonly wecom: number;
  readonly dingtalk: number;
  readonly feishu: number;
}

/**
 * The audience's size and, per channel with an address column, how many of its users have an
 * address there: one counting query (SQL's count(column) skips nulls).
 */
export async function audienceReach(db: Db, audience: Audience): Promise<AudienceReach> {
  const resolved = await resolve(db, audience);
  const row = await db
    .selectFrom('users')
    .select((eb) => [
      eb.fn.countAll<number | string | bigint>().as('count'),
      eb.fn.count<number | string | bigint>('users.email').as('email'),
      eb.fn.count<number | string | bigint>('users.phone').as('sms'),
      eb.fn.count<number | string | bigint>('users.wechat_open_id').as('wechat'),
      eb.fn.count<number | string | bigint>('users.wecom_user_id').as('wecom'),
      eb.fn.count<number | string | bigint>('users.dingtalk_user_id').as('dingtalk'),
      eb.fn.count<number | string | bigint>('users.feishu_user_id').as('feishu'),
    ])
    .where((eb) => condition(eb, resolved, sqlDialectOf(db)))
    .executeTakeFirstOrThrow();
  return {
    count: Number(row.count),
    email: Number(row.email),
    sms: Number(row.sms),
    wechat: Number(row.wechat),
    wecom: Number(row.wecom),
    dingtalk: Number(row.dingtalk),
    feishu: Number(row.feishu),
  };
}

/** External ids and group keys the audience names that do not exist (→ 422 unknown-recipients). */
export async function checkAudience(
  db: Db,
  audience: Audience,
): Promise<{ unknownUsers: string[]; unknownGroups: string[] }> {
  const externalIds = [...new Set(audience.users ?? [])];
  const known =
    externalIds.length === 0
      ? new Map<string, string>()
      : await userIdsByExternalId(db, externalIds);
  const keys = [...new Set(audience.groups ?? [])];
  const groups =
    keys.length === 0
      ? []
      : await db.selectFrom('groups').select('key').where('key', 'in', keys).execute();
  const knownGroups = new Set(groups.map((g) => g.key));
  return {
    unknownUsers: externalIds.filter((id) => !known.has(id)),
    unknownGroups: keys.filter((k) => !knownGroups.has(k)),
  };
}
