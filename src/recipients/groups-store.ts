import type { Db, Tx } from '../store/database.js';
import { newId } from '../store/ids.js';
import type { AudienceFilter } from './audience-types.js';
import { audiencePage, countAudience } from './audience.js';
import {
  normalizeOrgPrefix,
  orgUnitsOf,
  toUsers,
  userIdsByExternalId,
  type User,
} from './users-store.js';

/**
 * A named set of users that audiences refer to by key: static (an explicit member list,
 * e.g. a class roster) or dynamic (a filter evaluated when a message fans out, e.g. all
 * teachers of 农学院). Never both.
 */
/** A dynamic group's filter as stored and shown (only the parts that are set). */
export interface GroupFilter {
  roles?: string[];
  orgPrefix?: string;
  orgPrefixes?: string[];
  attributes?: Record<string, string>;
}

export interface Group {
  readonly key: string;
  readonly name: string;
  readonly kind: 'static' | 'dynamic';
  /** The filter of a dynamic group; null for a static one. */
  readonly filter: GroupFilter | null;
  readonly memberCount: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface GroupInput {
  readonly name: string;
  /** External ids of a static group's members. */
  readonly members?: readonly string[] | undefined;
  /** A dynamic group's filter (must constrain something; the caller checks). */
  readonly filter?: AudienceFilter | undefined;
}

export type GroupWrite =
  | { readonly ok: true; readonly group: Group }
  | { readonly ok: false; readonly reason: 'conflict' | 'missing' }
  | { readonly ok: false; readonly reason: 'unknown-members'; readonly unknown: string[] };

const MEMBER_BATCH = 2000;

type GroupRow = {
  id: string;
  key: string;
  name: string;
  filter: string | null;
  created_at: number;
  updated_at: number;
};

function toGroup(r: GroupRow, memberCount: number): Group {
  const filter = r.filter === null ? null : (JSON.parse(r.filter) as GroupFilter);
  return {
    key: r.key,
    name: r.name,
    kind: filter === null ? 'static' : 'dynamic',
    filter,
    memberCount,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/**
 * The filter as stored: only the parts that are set, org prefixes normalised (blank ones and
 * repeats dropped), roles unique. `orgPrefix` and `orgPrefixes` stay as given.
 */
function canonicalFilter(f: AudienceFilter): GroupFilter {
  const prefix = f.orgPrefix === undefined ? '' : normalizeOrgPrefix(f.orgPrefix);
  const prefixes = orgUnitsOf({ orgPrefixes: f.orgPrefixes ?? [] });
  return {
    ...(f.roles && f.roles.length > 0 ? { roles: [...new Set(f.roles)] } : {}),
    ...(prefix !== '' ? { orgPrefix: prefix } : {}),
    ...(prefixes.length > 0 ? { orgPrefixes: prefixes } : {}),
    ...(f.attributes && Object.keys(f.attributes).length > 0
      ? { attributes: { ...f.attributes } }
      : {}),
  };
}

function assertShape(input: GroupInput): void {
  if (input.members !== undefined && input.filter !== undefined) {
    throw new Error('A group has either members (static) or a filter (dynamic), not both');
  }
}

/** Resolves external ids to user ids; the unknown ones when any is missing. */
async function resolveMembers(
  tx: Tx,
  members: readonly string[],
): Promise<{ ids: string[] } | { unknown: string[] }> {
  const ids = await userIdsByExternalId(tx, members);
  const unknown = [...new Set(members)].filter((m) => !ids.has(m));
  return unknown.length > 0 ? { unknown } : { ids: [...ids.values()] };
}

/** Makes exactly these users the members of a static group (by internal ids). */
export async function writeMembers(
  tx: Tx,
  groupId: string,
  userIds: readonly string[],
): Promise<void> {
  await tx.deleteFrom('group_members').where('group_id', '=', groupId).execute();
  for (let i = 0; i < userIds.length; i += MEMBER_BATCH) {
    const part = userIds
      .slice(i, i + MEMBER_BATCH)
      .map((user_id) => ({ group_id: groupId, user_id }));
    await tx.insertInto('group_members').values(part).execute();
  }
}

/** Adds these users to a static group's members (by internal ids); present ones stay. */
export async function addMembers(
  tx: Tx,
  groupId: string,
  userIds: readonly string[],
): Promise<void> {
  for (let i = 0; i < userIds.length; i += MEMBER_BATCH) {
    const part = userIds
      .slice(i, i + MEMBER_BATCH)
      .map((user_id) => ({ group_id: groupId, user_id }));
    await tx
      .insertInto('group_members')
      .values(part)
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
      .execute();
  }
}

/** The groups with these keys, as stored (id, name, filter: null for a static group). */
export async function groupRowsByKey(
  db: Db,
  keys: readonly string[],
): Promise<Map<string, { id: string; name: string; filter: string | null }>> {
  const found = new Map<string, { id: string; name: string; filter: string | null }>();
  for (let i = 0; i < keys.length; i += MEMBER_BATCH) {
    const rows = await db
      .selectFrom('groups')
      .select(['id', 'key', 'name', 'filter'])
      .where('key', 'in', keys.slice(i, i + MEMBER_BATCH))
      .execute();
    for (const r of rows) found.set(r.key, { id: r.id, name: r.name, filter: r.filter });
  }
  return found;
}

function inTransaction<T>(db: Db, run: (tx: Tx) => Promise<T>): Promise<T> {
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

/** Creates a group; refused (nothing written) when the key exists or a member is not a known user. */
export async function createGroup(
  db: Db,
  input: GroupInput & { readonly key: string },
  now: number,
): Promise<GroupWrite> {
  assertShape(input);
  return inTransaction(db, async (tx): Promise<GroupWrite> => {
    const taken = await tx
      .selectFrom('groups')
      .select('id')
      .where('key', '=', input.key)
      .executeTakeFirst();
    if (taken) return { ok: false, reason: 'conflict' };
    const members = await resolveMembers(tx, input.members ?? []);
    if ('unknown' in members)
      return { ok: false, reason: 'unknown-members', unknown: members.unknown };
    const row: GroupRow = {
      id: newId(now),
      key: input.key,
      name: input.name,
      filter: input.filter === undefined ? null : JSON.stringify(canonicalFilter(input.filter)),
      created_at: now,
      updated_at: now,
    };
    await tx.insertInto('groups').values(row).execute();
    await writeMembers(tx, row.id, members.ids);
    return { ok: true, group: toGroup(row, await memberCount(tx, row.key)) };
  });
}

/**
 * Replaces a group's name and its members or filter (a group may switch between static and
 * dynamic); refused (nothing written) when it does not exist or a member is unknown.
 */
export async function replaceGroup(
  db: Db,
  key: string,
  input: GroupInput,
  now: number,
): Promise<GroupWrite> {
  assertShape(input);
  return inTransaction(db, async (tx): Promise<GroupWrite> => {
    const old = await tx.selectFrom('groups').selectAll().where('key', '=', key).executeTakeFirst();
    if (!old) return { ok: false, reason: 'missing' };
    const members = await resolveMembers(tx, input.members ?? []);
    if ('unknown' in members)
      return { ok: false, reason: 'unknown-members', unknown: members.unknown };
    const row: GroupRow = {
      ...old,
      name: input.name,
      filter: input.filter === undefined ? null : JSON.stringify(canonicalFilter(input.filter)),
      updated_at: now,
    };
    await tx
      .updateTable('groups')
      .set({ name: row.name, filter: row.filter, updated_at: now })
      .where('id', '=', old.id)
      .execute();
    await writeMembers(tx, old.id, members.ids);
    return { ok: true, group: toGroup(row, await memberCount(tx, key)) };
  });
}

export async function getGroup(db: Db, key: string): Promise<Group | null> {
  const row = await db.selectFrom('groups').selectAll().where('key', '=', key).executeTakeFirst();
  return row ? toGroup(row, await memberCount(db, key)) : null;
}

/** All groups by key, with member counts (static: one grouped count; dynamic: one count each). */
export async function listGroups(db: Db): Promise<Group[]> {
  const rows = await db.selectFrom('groups').selectAll().orderBy('key').execute();
  const counts = await db
    .selectFrom('group_members')
    .select((eb) => ['group_id', eb.fn.countAll<number | string | bigint>().as('n')])
    .groupBy('group_id')
    .execute();
  const staticCount = new Map(counts.map((c) => [c.group_id, Number(c.n)]));
  const groups: Group[] = [];
  for (const r of rows) {
    const n =
      r.filter === null
        ? (staticCount.get(r.id) ?? 0)
        : await countAudience(db, { filter: JSON.parse(r.filter) as AudienceFilter });
    groups.push(toGroup(r, n));
  }
  return groups;
}

/** Deletes a group (its member rows go with it); false when there is none. */
export async function deleteGroup(db: Db, key: string): Promise<boolean> {
  const res = await db.deleteFrom('groups').where('key', '=', key).executeTakeFirst();
  return res.numDeletedRows > 0n;
}

/** Number of users in the group now (a dynamic group's filter is evaluated). */
export async function memberCount(db: Db, key: string): Promise<number> {
  return countAudience(db, { groups: [key] });
}

/** A page of the group's members in user-id order; null when the group does not exist. */
export async function listGroupMembers(
  db: Db,
  key: string,
  opts: { readonly limit: number; readonly after?: string | undefined },
): Promise<{ items: User[]; nextCursor: string | null } | null> {
  const exists = await db
    .selectFrom('groups')
    .select('id')
    .where('key', '=', key)
    .executeTakeFirst();
  if (!exists) return null;
  const page = await audiencePage(db, { groups: [key] }, opts);
  return { items: await toUsers(db, page.rows), nextCursor: page.nextCursor };
}
