import type { Db } from '../store/database.js';
import { sqlDialectOf } from '../store/sql-dialect.js';
import type { CategoriesTable, Priority } from '../store/schema.js';
import type { Channel } from '../channels/channel.js';

/**
 * A kind of notification (考试安排, 缴费提醒 …): how urgent it is, whether users may turn it
 * off, which channels it uses when neither producer nor user chose, and how hard to retry.
 */
export interface NewCategory {
  readonly key: string;
  /** Display name per locale, e.g. `{ "zh-CN": "考试安排", "en": "Exam schedule" }`. */
  readonly name: Readonly<Record<string, string>>;
  readonly priority: Priority;
  /** Mandatory categories ignore user preferences. */
  readonly mandatory: boolean;
  readonly defaultChannels: readonly Channel[];
  /** Delivery attempts per channel before a delivery is dead. */
  readonly maxAttempts: number;
}

export interface Category extends NewCategory {
  /** Channel tried instead when a delivery has no address or fails for good, e.g. wechat → sms. */
  readonly channelFallbacks: Readonly<Partial<Record<Channel, Channel>>>;
  /** Email sender of this category (a source's own sender wins); null → HERALD_SMTP_FROM. */
  readonly emailFrom: string | null;
  readonly emailReplyTo: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What delivery-engine settings a new category may also be given (defaults: none). */
export type CategoryExtras = Partial<
  Pick<Category, 'channelFallbacks' | 'emailFrom' | 'emailReplyTo'>
>;

export type CategoryPatch = Partial<Omit<Category, 'key' | 'createdAt' | 'updatedAt'>>;

function toCategory(r: CategoriesTable): Category {
  return {
    key: r.key,
    name: JSON.parse(r.name) as Record<string, string>,
    priority: r.priority,
    mandatory: Number(r.mandatory) !== 0,
    defaultChannels: JSON.parse(r.default_channels) as Channel[],
    maxAttempts: Number(r.max_attempts),
    channelFallbacks: JSON.parse(r.channel_fallbacks) as Partial<Record<Channel, Channel>>,
    emailFrom: r.email_from,
    emailReplyTo: r.email_reply_to,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export async function listCategories(db: Db): Promise<Category[]> {
  const rows = await db.selectFrom('categories').selectAll().orderBy('key').execute();
  return rows.map(toCategory);
}

export async function getCategory(db: Db, key: string): Promise<Category | null> {
  const row = await db
    .selectFrom('categories')
    .selectAll()
    .where('key', '=', key)
    .executeTakeFirst();
  return row ? toCategory(row) : null;
}

/** The categories among `keys` that exist, in no particular order (unknown keys are skipped). */
export async function getCategoriesByKeys(db: Db, keys: readonly string[]): Promise<Category[]> {
  if (keys.length === 0) return [];
  const rows = await db
    .selectFrom('categories')
    .selectAll()
    .where('key', 'in', [...keys])
    .execute();
  return rows.map(toCategory);
}

/** Inserts a category; null when the key is taken. */
export async function insertCategory(
  db: Db,
  input: NewCategory & CategoryExtras,
  now: number,
): Promise<Category | null> {
  const row: CategoriesTable = {
    key: input.key,
    name: JSON.stringify(input.name),
    priority: input.priority,
    mandatory: input.mandatory ? 1 : 0,
    default_channels: JSON.stringify(input.defaultChannels),
    max_attempts: input.maxAttempts,
    channel_fallbacks: JSON.stringify(input.channelFallbacks ?? {}),
    email_from: input.emailFrom ?? null,
    email_reply_to: input.emailReplyTo ?? null,
    created_at: now,
    updated_at: now,
  };
  const res = await db
    .insertInto('categories')
    .values(row)
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return (res.numInsertedOrUpdatedRows ?? 0n) > 0n ? toCategory(row) : null;
}

/** Applies the given fields; null when there is no such category. */
export async function updateCategory(
  db: Db,
  key: string,
  patch: CategoryPatch,
  now: number,
): Promise<Category | null> {
  const res = await db
    .updateTable('categories')
    .set({
      ...(patch.name !== undefined ? { name: JSON.stringify(patch.name) } : {}),
      ...(patch.priority !== undefined ? { priority: patch.priority } : {}),
      ...(patch.mandatory !== undefined ? { mandatory: patch.mandatory ? 1 : 0 } : {}),
      ...(patch.defaultChannels !== undefined
        ? { default_channels: JSON.stringify(patch.defaultChannels) }
        : {}),
      ...(patch.maxAttempts !== undefined ? { max_attempts: patch.maxAttempts } : {}),
      ...(patch.channelFallbacks !== undefined
        ? { channel_fallbacks: JSON.stringify(patch.channelFallbacks) }
        : {}),
      ...(patch.emailFrom !== undefined ? { email_from: patch.emailFrom } : {}),
      ...(patch.emailReplyTo !== undefined ? { email_reply_to: patch.emailReplyTo } : {}),
      updated_at: now,
    })
    .where('key', '=', key)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n ? getCategory(db, key) : null;
}

/**
 * Deletes a category and (by cascade) its templates, and takes it off every source's list.
 * Refused while any message refers to it: message history and retries need its settings.
 */
export async function deleteCategory(
  db: Db,
  key: string,
  now: number,
): Promise<'deleted' | 'missing' | 'in-use'> {
  const run = async (tx: Db): Promise<'deleted' | 'missing' | 'in-use'> => {
    const exists = await tx
      .selectFrom('categories')
      .select('key')
      .where('key', '=', key)
      .executeTakeFirst();
    if (!exists) return 'missing';
    const used = await tx
      .selectFrom('messages')
      .select('id')
      .where('category_key', '=', key)
      .limit(1)
      .executeTakeFirst();
    if (used) return 'in-use';
    await tx.deleteFrom('categories').where('key', '=', key).execute();
    // Sources may no longer send it: a category created later under the same key starts with
    // no source allowed, instead of silently re-opening to the old ones.
    // Locked (PostgreSQL) so a source change committed meanwhile is not overwritten.
    const naming = tx
      .selectFrom('sources')
      .select(['key', 'categories'])
      .where('categories', 'like', `%${JSON.stringify(key)}%`);
    const allowed = await (sqlDialectOf(tx).skipLocked ? naming.forUpdate() : naming).execute();
    for (const source of allowed) {
      const categories = (JSON.parse(source.categories) as string[]).filter((c) => c !== key);
      await tx
        .updateTable('sources')
        .set({ categories: JSON.stringify(categories), updated_at: now })
        .where('key', '=', source.key)
        .execute();
    }
    return 'deleted';
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}
