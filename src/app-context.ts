import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import type { Db } from './store/database.js';
import type { SqlDialect } from './store/sql-dialect.js';
import type { Queue } from './queue/queue.js';
import type { Clock } from './time/clock.js';

/**
 * What route modules and workers receive from the composition root (`app.ts`). Adapters sit
 * behind their ports here; nothing below reads process.env or opens connections itself.
 */
export interface AppContext {
  readonly config: Config;
  readonly db: Db;
  readonly dialect: SqlDialect;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly log: Logger;
}
