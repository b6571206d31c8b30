import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { OPERATOR_ROLE } from './operators.js';

export interface SessionOwner {
  readonly userId: string;
  readonly externalId: string;
  readonly name: string;
  /** The user holds OPERATOR_ROLE now (checked on every request: withdrawing it acts at once). */
  readonly operator: boolean;
  readonly expiresAt: number;
}

export async function insertSession(
  db: Db,
  tokenHash: string,
  userId: string,
  now: number,
  expiresAt: number,
): Promise<void> {
  await db
    .insertInto('sessions')
    .values({ token_hash: tokenHash, user_id: userId, created_at: now, expires_at: expiresAt })
    .execute();
}

/** The live session with this token hash and who it belongs to, or null. */
export async function findSession(
  db: Db,
  tokenHash: string,
  now: number,
): Promise<SessionOwner | null> {
  const row = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select((eb) => [
      's.user_id',
      's.expires_at',
      'u.external_id',
      'u.name',
      eb
        .exists(
          eb
            .selectFrom('user_roles as r')
            .select(sql`1`.as('one'))
            .whereRef('r.user_id', '=', 's.user_id')
            .where('r.role', '=', OPERATOR_ROLE),
        )
        .as('operator'),
    ])
    .where('s.token_hash', '=', tokenHash)
    .where('s.expires_at', '>', now)
    .executeTakeFirst();
  return row
    ? {
        userId: row.user_id,
        externalId: row.external_id,
        name: row.name,
        // SQLite answers 0/1, PostgreSQL a boolean.
        operator: Boolean(Number(row.operator)),
        expiresAt: Number(row.expires_at),
      }
    : null;
}

/** Whether the user holds OPERATOR_ROLE. */
export async function isOperator(db: Db, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('user_roles')
    .select('role')
    .where('user_id', '=', userId)
    .where('role', '=', OPERATOR_ROLE)
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteSession(db: Db, tokenHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
}

export async function deleteExpiredSessions(db: Db, now: number): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
}
