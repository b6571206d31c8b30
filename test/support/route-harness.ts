import { pino } from 'pino';
import { sha256 } from '../../src/auth/secrets.js';
import { authGuards, type AuthGuards } from '../../src/http/auth-guards.js';
import { createServer } from '../../src/http/server.js';
import type { Server } from '../../src/http/server-types.js';
import type { Db } from '../../src/store/database.js';
import { systemClock, type Clock } from '../../src/time/clock.js';
import { freshDatabase } from './fresh-db.js';

export const ADMIN_TOKEN = 'admin-token-for-tests';
/** Request headers that pass the admin guard of a route harness. */
export const ADMIN_AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` } as const;

/** What a routes module usually takes besides the app. */
export interface RouteDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly guards: AuthGuards;
}

export interface RouteHarnessOptions {
  /** Names the temporary database folder. */
  readonly name: string;
  /** Registers the routes under test, e.g. `usersRoutes` itself. */
  readonly register: (app: Server, deps: RouteDeps) => void;
  /** The routes' clock (default: the system clock). The guards always use the system clock. */
  readonly clock?: Clock;
}

export interface RouteHarness {
  readonly app: Server;
  readonly db: Db;
  close(): Promise<void>;
}

/**
 * A fresh migrated database and a ready, silent Fastify server with the given routes, guarded
 * by `ADMIN_TOKEN`.
 */
export async function routeHarness(opts: RouteHarnessOptions): Promise<RouteHarness> {
  const fresh = await freshDatabase(opts.name);
  const { db } = fresh;
  let app: Server | undefined;
  try {
    app = await createServer({
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 262144,
      version: 'test',
      trustProxy: false,
    });
    const guards = authGuards(db, () => sha256(ADMIN_TOKEN), systemClock);
    opts.register(app, { db, clock: opts.clock ?? systemClock, guards });
    await app.ready();
  } catch (err) {
    await app?.close();
    await fresh.close();
    throw err;
  }
  const server = app;
  return {
    app: server,
    db,
    async close() {
      await server.close();
      await fresh.close();
    },
  };
}
