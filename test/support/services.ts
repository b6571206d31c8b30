import pg from 'pg';
import { connect } from 'amqplib';

/** Where the scale-out tests find PostgreSQL and RabbitMQ (override for another machine). */
export const TEST_DATABASE_URL =
  process.env.HERALD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_BROKER_URL =
  process.env.HERALD_TEST_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export type Service = 'postgres' | 'rabbitmq';

const probes: Record<Service, () => Promise<void>> = {
  async postgres() {
    const client = new pg.Client({
      connectionString: TEST_DATABASE_URL,
      connectionTimeoutMillis: 3000,
    });
    await client.connect();
    try {
      await client.query('select 1');
    } finally {
      await client.end();
    }
  },
  async rabbitmq() {
    const connection = await connect(TEST_BROKER_URL, { timeout: 3000 });
    await connection.close();
  },
};

const cache = new Map<Service, Promise<string | false>>();

/**
 * For `describe(name, { skip: await skipUnless('postgres') }, …)`: false when the service
 * answers, else the reason the suite is skipped (printed by the test runner). With `CI` set a
 * missing service is a failure, never a skip: it throws.
 */
export function skipUnless(...services: Service[]): Promise<string | false> {
  return Promise.all(services.map(probe)).then((reasons) => reasons.find((r) => r) ?? false);
}

function probe(service: Service): Promise<string | false> {
  let result = cache.get(service);
  if (!result) {
    result = probes[service]().then(
      () => false as const,
      (err: unknown) => {
        const reason = `${service} is not reachable (${(err as Error).message}); start it to run this suite`;
        if (process.env.CI) throw new Error(`CI is set, so this is a failure: ${reason}`);
        return reason;
      },
    );
    cache.set(service, result);
  }
  return result;
}
