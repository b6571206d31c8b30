import type { Db } from '../store/database.js';

export interface CategoryPreference {
  readonly categoryKey: string;
  readonly enabled: boolean;
  /** null → the category's default channels. */
  readonly channels: string[] | null;
}

type Row = { user_id: string; category_key: string; enabled: number; channels: string | null };

const toPreference = (r: Row): CategoryPreference => ({
  categoryKey: r.category_key,
  enabled: Number(r.enabled) === 1,
  channels: r.channels === null ? null : (JSON.parse(r.channels) as string[]),
});

/** The preferences of many users for one category, for fan-out. */
export async function preferencesFor(
  db: Db,
  userIds: readonly string[],
  categoryKey: string,
): Promise<Map<string, CategoryPreference>> {
  const out = new Map<string, CategoryPreference>();
  for (let i = 0; i < userIds.length; i += 900) {
    const rows = await db
      .selectFrom('preferences')
      .selectAll()
      .where('category_key', '=', categoryKey)
      .where('user_id', 'in', userIds.slice(i, i + 900))
      .execute();
    for (const r of rows) out.set(r.user_id, toPreference(r));
  }
  return out;
}

export async function userPreferences(db: Db, userId: string): Promise<CategoryPreference[]> {
  const rows = await db
    .selectFrom('preferences')
    .selectAll()
    .where('user_id', '=', userId)
    .execute();
  return rows.map(toPreference);
}

/** Replaces the given categories' preferences of one user (others stay). */
export async function putUserPreferences(
  db: Db,
  userId: string,
  prefs: readonly CategoryPreference[],
  now: number,
): Promise<void> {
  if (prefs.length === 0) return;
  await db
    .insertInto('preferences')
    .values(
      prefs.map((p) => ({
        user_id: userId,
        category_key: p.categoryKey,
        enabled: p.enabled ? 1 : 0,
        channels: p.channels === null ? null : JSON.stringify(p.channels),
        updated_at: now,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['user_id', 'category_key']).doUpdateSet((eb) => ({
        enabled: eb.ref('excluded.enabled'),
        channels: eb.ref('excluded.channels'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}

/** The user's language is a preference too; it lives on the user row. */
export async function setUserLocale(
  db: Db,
  userId: string,
  locale: string,
  now: number,
): Promise<void> {
  await db.updateTable('users').set({ locale, updated_at: now }).where('id', '=', userId).execute();
}

/** The user's time zone (canonical IANA name): where the message center shows times. */
export async function setUserTimezone(
  db: Db,
  userId: string,
  timezone: string,
  now: number,
): Promise<void> {
  await db
    .updateTable('users')
    .set({ timezone, updated_at: now })
    .where('id', '=', userId)
    .execute();
}
