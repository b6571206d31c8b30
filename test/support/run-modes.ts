/**
 * The ways a spawned Herald can be run for the end-to-end tests, which run in each: where it
 * keeps its data (a SQLite file, or a PostgreSQL schema of the test's own) and its jobs (the
 * embedded queue in that store, or RabbitMQ with the outbox in PostgreSQL — the scale-out
 * mode). Each mode gives the environment of the Heralds of one run, a reader of what they
 * wrote, where their unfinished jobs are, and the cleanup.
 */
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import {
  brokerJobs,
  deleteBrokerObjects,
  heraldBrokerObjects,
  uniqueBrokerPrefix,
} from './broker.js';
import { freshSchema, type FreshSchema } from './fresh-postgres.js';
import { skipUnless, TEST_BROKER_URL, TEST_DATABASE_URL } from './services.js';

/** Reads the store the Heralds of a run write (a killed one's too), as a checker's far side. */
export interface StoreReader {
  /** Runs `select count(*) n …` and returns n. */
  count(sql: string): Promise<number>;
  rows<T>(sql: string): Promise<T[]>;
  /** Runs a statement that returns nothing: a test's failpoint (the SQLite reader is read-only). */
  execute(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** Jobs not yet done, where the mode keeps them. */
export interface PendingJobs {
  /** In the store: the embedded queue's jobs, or outbox rows (unpublished, or not yet deleted). */
  readonly store: number;
  /** Ready in the broker's queues (always 0 without a broker). */
  readonly broker: number;
  /** Consumers on the broker's job queues: 0 once no Herald of the run is alive. */
  readonly consumers: number;
}

/** One run's Heralds: their environment, what they wrote, and its removal. */
export interface Run {
  /** For every Herald process of the run (they share the data). */
  readonly env: Readonly<Record<string, string>>;
  /** Opens a reader; call it once a Herald has created the tables. */
  reader(): Promise<StoreReader>;
  pendingJobs(db: StoreReader): Promise<PendingJobs>;
  /** Drops the schema and the broker objects (the SQLite file goes with the data folder). */
  drop(): Promise<void>;
}

export interface RunMode {
  /** `SQLite`, `PostgreSQL`, `PostgreSQL + RabbitMQ`: for test names. */
  readonly name: string;
  /** Several Herald processes can share the data (not so for one SQLite file). */
  readonly multiProcess: boolean;
  /** Jobs go through RabbitMQ and the store's outbox. */
  readonly broker: boolean;
  /** For `describe`'s skip: false, or why the services are missing (throws under CI). */
  unavailable(): Promise<string | false>;
  /** A run whose Heralds keep their files in `dataDir`. */
  open(dataDir: string): Promise<Run>;
}

export const RUN_MODES: readonly RunMode[] = [
  {
    name: 'SQLite',
    multiProcess: false,
    broker: false,
    unavailable: async () => false,
    async open(dataDir) {
      return {
        env: {},
        async reader() {
          const db = new SqliteDatabase(join(dataDir, 'herald.db'), { readonly: true });
          return {
            count: async (sql) => Number((db.prepare(sql).get() as { n: number }).n),
            rows: async <T>(sql: string) => db.prepare(sql).all() as T[],
            execute: async (sql) => {
              db.exec(sql);
            },
            close: async () => {
              db.close();
            },
          };
        },
        pendingJobs: embeddedPendingJobs,
        drop: async () => {},
      };
    },
  },
  {
    name: 'PostgreSQL',
    multiProcess: true,
    broker: false,
    unavailable: () => skipUnless('postgres'),
    async open() {
      const schema = await freshSchema();
      return {
        env: postgresEnv(schema),
        reader: () => postgresReader(schema),
        pendingJobs: embeddedPendingJobs,
        drop: () => schema.drop(),
      };
    },
  },
  {
    name: 'PostgreSQL + RabbitMQ',
    multiProcess: true,
    broker: true,
    unavailable: () => skipUnless('postgres', 'rabbitmq'),
    async open() {
      const schema = await freshSchema();
      const prefix = uniqueBrokerPrefix();
      return {
        env: {
          ...postgresEnv(schema),
          HERALD_BROKER_URL: TEST_BROKER_URL,
          HERALD_BROKER_PREFIX: prefix,
        },
        reader: () => postgresReader(schema),
        async pendingJobs(db) {
          const inBroker = await brokerJobs(prefix);
          return {
            store: await db.count(`select count(*) n from broker_outbox`),
            broker: inBroker.messages,
            consumers: inBroker.consumers,
          };
        },
        async drop() {
          try {
            await deleteBrokerObjects(heraldBrokerObjects(prefix));
          } finally {
            await schema.drop();
          }
        },
      };
    },
  },
];

async function embeddedPendingJobs(db: StoreReader): Promise<PendingJobs> {
  return { store: await db.count(`select count(*) n from queue_jobs`), broker: 0, consumers: 0 };
}

function postgresEnv(schema: FreshSchema): Record<string, string> {
  return { HERALD_DATABASE_URL: schema.url, HERALD_DATABASE_POOL_SIZE: '4' };
}

/**
 * A reader on the run's schema. Other tests on this machine may restart PostgreSQL: a query
 * that fails drops its connection and the next query opens a new one (`eventually` retries).
 */
async function postgresReader(schema: FreshSchema): Promise<StoreReader> {
  const open = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      connectionString: TEST_DATABASE_URL,
      options: `-c search_path=${schema.schema}`,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  let current: pg.Client | null = await open();
  const query = async <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => {
    current ??= await open();
    try {
      return (await current.query<T>(sql)).rows;
    } catch (err) {
      const broken = current;
      current = null;
      await broken.end().catch(() => undefined);
      throw err;
    }
  };
  return {
    count: async (sql) => Number((await query<{ n: string }>(sql))[0]!.n),
    rows: async <T>(sql: string) => (await query(sql)) as T[],
    execute: async (sql) => {
      await query(sql);
    },
    close: async () => {
      await current?.end();
      current = null;
    },
  };
}
