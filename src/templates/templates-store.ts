import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import type { TemplatesTable } from '../store/schema.js';
import { newId } from '../store/ids.js';
import { sqlDialectOf } from '../store/sql-dialect.js';

/**
 * One version of the template for a category × channel × locale. Versions are never changed
 * or deleted (a delivery can say which version it used); the highest version is the current.
 */
export interface StoredTemplate {
  readonly id: string;
  readonly category: string;
  readonly channel: string;
  readonly locale: string;
  readonly version: number;
  readonly subject: string | null;
  readonly title: string | null;
  readonly body: string;
  readonly createdAt: number;
  /** Who stored it (`actorOf`: an operator or the admin token); null when not recorded. */
  readonly createdBy: string | null;
}

export interface TemplateInput {
  readonly category: string;
  readonly channel: string;
  readonly locale: string;
  readonly subject?: string | null;
  readonly title?: string | null;
  readonly body: string;
  readonly createdBy?: string | null;
}

function toTemplate(r: TemplatesTable): StoredTemplate {
  return {
    id: r.id,
    category: r.category_key,
    channel: r.channel,
    locale: r.locale,
    version: Number(r.version),
    subject: r.subject,
    title: r.title,
    body: r.body,
    createdAt: Number(r.created_at),
    createdBy: r.created_by ?? null,
  };
}

/**
 * Stores the texts as the next version (1 for the first), numbered by the INSERT itself
 * (`max(version) + 1` in the same statement). Two concurrent writers cannot get the same
 * version: the unique (category, channel, locale, version) index refuses the second — on
 * PostgreSQL, where statements of several processes run at once — which then retries on top
 * of the first. Each round lets at least one writer through.
 */
export async function putTemplate(
  db: Db,
  input: TemplateInput,
  now: number,
): Promise<StoredTemplate> {
  const { typed } = sqlDialectOf(db);
  for (let attempt = 1; ; attempt++) {
    const row: Omit<TemplatesTable, 'version'> = {
      id: newId(now),
      category_key: input.category,
      channel: input.channel,
      locale: input.locale,
      subject: input.subject ?? null,
      title: input.title ?? null,
      body: input.body,
      created_at: now,
      created_by: input.createdBy ?? null,
    };
    const stored = await db
      .insertInto('templates')
      .columns([
        'id',
        'category_key',
        'channel',
        'locale',
        'subject',
        'title',
        'body',
        'created_at',
        'created_by',
        'version',
      ])
      .expression((eb) =>
        eb
          .selectFrom('templates')
          .select([
            typed(row.id, 'text').as('id'),
            typed(row.category_key, 'text').as('category_key'),
            typed(row.channel, 'text').as('channel'),
            typed(row.locale, 'text').as('locale'),
            typed(row.subject, 'text').as('subject'),
            typed(row.title, 'text').as('title'),
            typed(row.body, 'text').as('body'),
            typed(row.created_at, 'bigint').as('created_at'),
            typed(row.created_by, 'text').as('created_by'),
            sql<number>`coalesce(max(version), 0) + 1`.as('version'),
          ])
          .where('category_key', '=', input.category)
          .where('channel', '=', input.channel)
          .where('locale', '=', input.locale),
      )
      .onConflict((oc) => oc.columns(['category_key', 'channel', 'locale', 'version']).doNothing())
      .returning('version')
      .executeTakeFirst();
    if (stored) return toTemplate({ ...row, version: Number(stored.version) });
    if (attempt >= 10) {
      const t = `${input.category}/${input.channel}/${input.locale}`;
      throw new Error(
        `Could not store a new version of template ${t}: too many concurrent writers`,
      );
    }
  }
}

export async function getCurrentTemplate(
  db: Db,
  category: string,
  channel: string,
  locale: string,
): Promise<StoredTemplate | null> {
  const row = await versionsOf(db, category, channel, locale).limit(1).executeTakeFirst();
  return row ? toTemplate(row) : null;
}

/** Templates rows that are the highest version of their category × channel × locale. */
function currentVersions(db: Db) {
  return db
    .selectFrom('templates as t')
    .selectAll('t')
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('templates as newer')
            .select(sql<number>`1`.as('one'))
            .whereRef('newer.category_key', '=', 't.category_key')
            .whereRef('newer.channel', '=', 't.channel')
            .whereRef('newer.locale', '=', 't.locale')
            .whereRef('newer.version', '>', 't.version'),
        ),
      ),
    );
}

/** The current version of every template (of one category if given), by category, channel, locale. */
export async function listTemplates(
  db: Db,
  filter: { category?: string } = {},
): Promise<StoredTemplate[]> {
  let q = currentVersions(db);
  if (filter.category !== undefined) q = q.where('t.category_key', '=', filter.category);
  const rows = await q.orderBy('t.category_key').orderBy('t.channel').orderBy('t.locale').execute();
  return rows.map(toTemplate);
}

/** Every version, newest first. */
export async function listVersions(
  db: Db,
  category: string,
  channel: string,
  locale: string,
): Promise<StoredTemplate[]> {
  const rows = await versionsOf(db, category, channel, locale).execute();
  return rows.map(toTemplate);
}

/** One version of a template, or null. */
export async function getVersion(
  db: Db,
  category: string,
  channel: string,
  locale: string,
  version: number,
): Promise<StoredTemplate | null> {
  const row = await versionsOf(db, category, channel, locale)
    .where('version', '=', version)
    .executeTakeFirst();
  return row ? toTemplate(row) : null;
}

/**
 * The current template of the first locale in `locales` that has one (see `localeChain`), or
 * null when none has. One query whatever the chain's length.
 */
export async function resolveTemplate(
  db: Db,
  category: string,
  channel: string,
  locales: readonly string[],
): Promise<StoredTemplate | null> {
  if (locales.length === 0) return null;
  const rows = await currentVersions(db)
    .where('t.category_key', '=', category)
    .where('t.channel', '=', channel)
    .where('t.locale', 'in', [...locales])
    .execute();
  for (const locale of locales) {
    const row = rows.find((r) => r.locale === locale);
    if (row) return toTemplate(row);
  }
  return null;
}

/** All versions of one template, newest first. */
function versionsOf(db: Db, category: string, channel: string, locale: string) {
  return db
    .selectFrom('templates')
    .selectAll()
    .where('category_key', '=', category)
    .where('channel', '=', channel)
    .where('locale', '=', locale)
    .orderBy('version', 'desc');
}
