import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** A handle on the database: the pool itself or an open transaction. */
export type Db = Kysely<Database>;
/** An open transaction (same type as Db; named for what callers must pass). */
export type Tx = Kysely<Database>;
