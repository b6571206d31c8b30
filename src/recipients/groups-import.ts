import { parse as parseCsv } from 'csv-parse/sync';
import { Problem } from '../http/problem.js';
import type { Db, Tx } from '../store/database.js';
import { newId } from '../store/ids.js';
import { addMembers, groupRowsByKey, memberCount, writeMembers } from './groups-store.js';
import { MAX_IMPORT_ROWS } from './users-import.js';
import { userIdsByExternalId } from './users-store.js';

export const GROUP_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const EXTERNAL_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * How an import treats the groups it names: `replace` makes each group's members exactly its
 * valid rows (a roster sync); `add` only adds them.
 */
export type GroupImportMode = 'replace' | 'add';

export type GroupImportPayload =
  | { readonly format: 'json'; readonly body: unknown }
  | { readonly format: 'csv'; readonly text: string };

export interface MembershipRowResult {
  /** 1-based data row (JSON index + 1; CSV rows after the header). */
  readonly row: number;
  readonly group: string | null;
  readonly member: string | null;
  readonly status: 'ok' | 'error';
  readonly errors?: { field: string; message: string }[];
}

export interface GroupOutcome {
  readonly key: string;
  /** created: a new static group; replaced / extended: an existing one's members set / added to. */
  readonly status: 'created' | 'replaced' | 'extended';
  /** Members after the import. */
  readonly members: number;
}

export interface GroupImportResult {
  readonly imported: number;
  readonly failed: number;
  readonly groups: GroupOutcome[];
  readonly results: MembershipRowResult[];
}

interface RawRow {
  readonly group: string | null;
  readonly member: string | null;
  readonly name: string | null;
  readonly errors: { field: string; message: string }[];
}

const COLUMN_ALIASES: Record<string, 'group' | 'member' | 'name'> = {
  group: 'group',
  key: 'group',
  member: 'member',
  externalid: 'member',
  name: 'name',
  groupname: 'name',
};

/**
 * Imports static group memberships — class rosters, committees — from a JSON array of
 * `{group, member, name?}` or a CSV with the columns `group`, `member` and optionally `name`
 * (one row per membership). Each row is checked on its own (key and external id well formed,
 * the member exists, the group is not dynamic, no repeat); valid rows are imported in one
 * transaction even when others fail, and the result reports every row and every group.
 * A group that does not exist is created (static, named by its first `name` or its key); a
 * given `name` renames an existing one. A group whose rows all fail is left alone.
 */
export async function importGroups(
  db: Db,
  payload: GroupImportPayload,
  mode: GroupImportMode,
  now: number,
): Promise<GroupImportResult> {
  const raws = payload.format === 'json' ? jsonRows(payload.body) : csvRows(payload.text);
  const keys = [...new Set(raws.flatMap((r) => (r.group && !r.errors.length ? [r.group] : [])))];
  const members = [
    ...new Set(raws.flatMap((r) => (r.member && !r.errors.length ? [r.member] : []))),
  ];

  return db.transaction().execute(async (tx) => {
    const groups = await groupRowsByKey(tx, keys);
    const userIds = await userIdsByExternalId(tx, members);
    const firstRow = new Map<string, number>();
    const valid = new Map<string, { userIds: string[]; name: string | null }>();
    const results: MembershipRowResult[] = raws.map((raw, i) => {
      const row = i + 1;
      const errors = [...raw.errors];
      const { group, member } = raw;
      if (errors.length === 0 && group !== null && member !== null) {
        const existing = groups.get(group);
        if (existing && existing.filter !== null) {
          errors.push({
            field: 'group',
            message: `"${group}" is a dynamic group (a filter): its members cannot be imported`,
          });
        }
        const userId = userIds.get(member);
        if (userId === undefined) errors.push({ field: 'member', message: 'no such user' });
        const pair = `${group}\u0000${member}`;
        const first = firstRow.get(pair);
        if (first !== undefined) errors.push({ field: 'row', message: `duplicates row ${first}` });
        else firstRow.set(pair, row);
        if (errors.length === 0) {
          const entry = valid.get(group) ?? { userIds: [], name: null };
          entry.userIds.push(userId!);
          entry.name ??= raw.name;
          valid.set(group, entry);
        }
      }
      return errors.length === 0
        ? { row, group, member, status: 'ok' as const }
        : { row, group, member, status: 'error' as const, errors };
    });

    const outcomes: GroupOutcome[] = [];
    for (const [key, entry] of valid) {
      const status = await applyGroup(tx, key, entry, groups.get(key), mode, now);
      outcomes.push({ key, status, members: await memberCount(tx, key) });
    }
    const failed = results.filter((r) => r.status === 'error').length;
    return { imported: results.length - failed, failed, groups: outcomes, results };
  });
}

async function applyGroup(
  tx: Tx,
  key: string,
  entry: { userIds: string[]; name: string | null },
  found: { id: string; name: string; filter: string | null } | undefined,
  mode: GroupImportMode,
  now: number,
): Promise<GroupOutcome['status']> {
  let existing = found;
  if (!existing) {
    const created = await tx
      .insertInto('groups')
      .values({
        id: newId(now),
        key,
        name: entry.name ?? key,
        filter: null,
        created_at: now,
        updated_at: now,
      })
      // On PostgreSQL another import may create it meanwhile: then it is updated below.
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (created) {
      await writeMembers(tx, created.id, entry.userIds);
      return 'created';
    }
    existing = (await groupRowsByKey(tx, [key])).get(key)!;
    if (existing.filter !== null) {
      throw new Problem('conflict', `Group "${key}" was made dynamic while this import ran`);
    }
  }
  await tx
    .updateTable('groups')
    .set({ name: entry.name ?? existing.name, updated_at: now })
    .where('id', '=', existing.id)
    .execute();
  if (mode === 'replace') {
    await writeMembers(tx, existing.id, entry.userIds);
    return 'replaced';
  }
  await addMembers(tx, existing.id, entry.userIds);
  return 'extended';
}

function cellCheck(group: string | null, member: string | null): RawRow['errors'] {
  const errors: RawRow['errors'] = [];
  if (group === null) errors.push({ field: 'group', message: 'is required' });
  else if (!GROUP_KEY.test(group))
    errors.push({
      field: 'group',
      message:
        'must be 1–64 characters of A–Z, a–z, 0–9, ".", "_" or "-", starting with a letter or digit',
    });
  if (member === null) errors.push({ field: 'member', message: 'is required' });
  else if (!EXTERNAL_ID.test(member))
    errors.push({ field: 'member', message: 'is not an external id' });
  return errors;
}

const text = (v: unknown): string | null =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : null;

function jsonRows(body: unknown): RawRow[] {
  if (!Array.isArray(body)) {
    throw new Problem(
      'validation-failed',
      'The body must be a JSON array of {"group", "member", "name"?} objects (or a CSV file)',
    );
  }
  if (body.length > MAX_IMPORT_ROWS) throw tooMany(body.length);
  return body.map((item: unknown): RawRow => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      return {
        group: null,
        member: null,
        name: null,
        errors: [{ field: 'row', message: 'must be an object' }],
      };
    }
    const o = item as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !['group', 'member', 'name'].includes(k));
    const group = text(o.group);
    const member = text(o.member);
    const errors = [
      ...unknown.map((k) => ({ field: k, message: 'is not a field of a membership' })),
      ...cellCheck(group, member),
    ];
    return { group, member, name: text(o.name)?.slice(0, 200) ?? null, errors };
  });
}

function csvRows(textBody: string): RawRow[] {
  let records: string[][];
  try {
    records = parseCsv(textBody, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      to: MAX_IMPORT_ROWS + 2,
    });
  } catch (err) {
    throw new Problem(
      'validation-failed',
      `The CSV could not be parsed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const [header, ...data] = records;
  if (!header) {
    throw new Problem(
      'validation-failed',
      'The CSV is empty; it needs a header row "group,member"',
    );
  }
  if (data.length > MAX_IMPORT_ROWS) throw tooMany(data.length);
  const columns = header.map(
    (h) =>
      COLUMN_ALIASES[
        h
          .trim()
          .toLowerCase()
          .replace(/[\s_-]/g, '')
      ],
  );
  const unknownColumns = header.filter((_, i) => columns[i] === undefined);
  const repeated = columns.filter((c, i) => c !== undefined && columns.indexOf(c) !== i);
  if (unknownColumns.length > 0 || repeated.length > 0) {
    throw new Problem(
      'validation-failed',
      `The CSV columns must be group, member and optionally name${unknownColumns.length ? `; unknown: ${unknownColumns.join(', ')}` : ''}${repeated.length ? `; repeated: ${repeated.join(', ')}` : ''}`,
      { unknownColumns },
    );
  }
  if (!columns.includes('group') || !columns.includes('member')) {
    throw new Problem('validation-failed', 'The CSV needs the columns group and member');
  }
  return data.map((cells): RawRow => {
    if (cells.length !== columns.length) {
      return {
        group: null,
        member: null,
        name: null,
        errors: [
          { field: 'row', message: `has ${cells.length} cells, the header ${columns.length}` },
        ],
      };
    }
    const cell = (c: 'group' | 'member' | 'name') => text(cells[columns.indexOf(c)]);
    const group = cell('group');
    const member = cell('member');
    return {
      group,
      member,
      name: cell('name')?.slice(0, 200) ?? null,
      errors: cellCheck(group, member),
    };
  });
}

function tooMany(n: number): Problem {
  return new Problem(
    'validation-failed',
    `An import holds at most ${MAX_IMPORT_ROWS} rows, this one ${n > MAX_IMPORT_ROWS + 1 ? 'more' : n}; split it into several files`,
  );
}
