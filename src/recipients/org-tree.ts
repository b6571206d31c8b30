import type { Db } from '../store/database.js';

/** One unit of the organisation (学院, 系, 班级 or an office), as users' org paths spell it. */
export interface OrgNode {
  /** The last segment, e.g. `2024级1班`. */
  readonly name: string;
  /** The whole path, e.g. `农学院/作物学系/2024级1班`: usable as an audience `orgPrefix`. */
  readonly path: string;
  /** Users at this unit or below it: what `filter.orgPrefix` = `path` selects. */
  readonly count: number;
  /** Users whose path is exactly this unit (e.g. teachers of a department, not in a class). */
  readonly direct: number;
  readonly children: readonly OrgNode[];
}

export interface OrgTree {
  /** Every user. */
  readonly total: number;
  /** Users without an org path (in no unit). */
  readonly unassigned: number;
  /** Top-level units (学院, offices), by name. */
  readonly nodes: readonly OrgNode[];
}

interface MutableNode {
  name: string;
  path: string;
  count: number;
  direct: number;
  children: Map<string, MutableNode>;
}

/**
 * The organisation as a tree, built from the distinct org paths and their user counts (one
 * grouped query on the `users_org_path` index: a few hundred paths for 30,000 users).
 */
export async function orgTree(db: Db): Promise<OrgTree> {
  const rows = await db
    .selectFrom('users')
    .select(['org_path', (eb) => eb.fn.countAll<number | string | bigint>().as('n')])
    .groupBy('org_path')
    .execute();
  const root = new Map<string, MutableNode>();
  let total = 0;
  let unassigned = 0;
  for (const row of rows) {
    const n = Number(row.n);
    total += n;
    // Stored paths are normalised on import (segments non-empty); stay tolerant anyway.
    const segments = row.org_path.split('/').filter((s) => s.trim() !== '');
    if (segments.length === 0) {
      unassigned += n;
      continue;
    }
    let level = root;
    let path = '';
    segments.forEach((name, i) => {
      path = path ? `${path}/${name}` : name;
      let node = level.get(name);
      if (!node) {
        node = { name, path, count: 0, direct: 0, children: new Map() };
        level.set(name, node);
      }
      node.count += n;
      if (i === segments.length - 1) node.direct += n;
      level = node.children;
    });
  }
  const freeze = (level: Map<string, MutableNode>): OrgNode[] =>
    [...level.values()]
      .sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'))
      .map((n) => ({
        name: n.name,
        path: n.path,
        count: n.count,
        direct: n.direct,
        children: freeze(n.children),
      }));
  return { total, unassigned, nodes: freeze(root) };
}

/** Every role held by someone, with how many users hold it, by role. */
export async function roleCounts(db: Db): Promise<{ role: string; count: number }[]> {
  const rows = await db
    .selectFrom('user_roles')
    .select(['role', (eb) => eb.fn.countAll<number | string | bigint>().as('n')])
    .groupBy('role')
    .orderBy('role')
    .execute();
  return rows.map((r) => ({ role: r.role, count: Number(r.n) }));
}
