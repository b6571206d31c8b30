/**
 * The PostgreSQL schema and the RabbitMQ name prefix of one scale-out bench run: both unique
 * (`bench_<random>`), both removed afterwards — after a normal end, a failure, Ctrl-C, and (by
 * the next scale run) after a bench that was killed outright. RabbitMQ here has a small
 * file-descriptor limit, and quorum queues left behind hurt everyone who shares it.
 *
 * A marker file per run (`bench/results/scale-runs/<name>.json`) names what the run created and
 * the pid of the bench; a later run removes what a dead bench left behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { connect, type Channel } from 'amqplib';
import pg from 'pg';
import { parsePostgresUrl } from '../../src/store/postgres/postgres-url.js';
import { LANES } from '../../src/queue/queue.js';
import { RUNGS_MS, Topology } from '../../src/queue/rabbitmq/topology.js';
import { HERALD_TOPICS } from '../../src/runtime/open-queue.js';
import { ingressNames, ingressPrefix } from '../../src/ingress/ingress-names.js';
import { ROOT } from './child.js';
import { trackResource, type ExternalResource } from './cleanup.js';

const MARKERS = join(ROOT, 'bench/results/scale-runs');

export interface ScaleRunSpec {
  /** `bench_<random>`: the schema's name and the broker prefix. */
  readonly name: string;
  /** postgres://… without `schema` (the server and database). */
  readonly databaseUrl: string;
  readonly brokerUrl: string;
  /** The bench's pid (a marker whose pid is gone is a leftover). */
  readonly pid: number;
}

/** HERALD_DATABASE_URL of the run: the base URL with `?schema=<name>`. */
export function runDatabaseUrl(spec: ScaleRunSpec): string {
  const u = new URL(spec.databaseUrl);
  u.searchParams.set('schema', spec.name);
  return u.toString();
}

export function newRunName(): string {
  return `bench_${randomBytes(6).toString('hex')}`;
}

/** The bench's own queries on the run's schema. */
export type BenchQuery = <R extends pg.QueryResultRow>(
  sql: string,
  params?: unknown[],
) => Promise<pg.QueryResult<R>>;

/**
 * Runs a query, retried for up to ~30 s when its connection is lost: another user of the
 * machine may restart PostgreSQL in the middle of a run (Herald answers 503 meanwhile, and
 * carries on); the bench's reading of the result should not fail for it.
 */
export function patientQuery(pool: pg.Pool): BenchQuery {
  return async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await pool.query<R>(sql, params);
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        const lost =
          /^(57P0[123]|08)/.test(code) ||
          /terminat|connect|ECONNREFUSED|ECONNRESET/i.test((err as Error).message);
        if (!lost || attempt >= 30) throw err;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  };
}

/** A pg pool whose connections see the run's schema (search_path), for the bench's own queries. */
export function benchPool(spec: ScaleRunSpec, max = 2): pg.Pool {
  const target = parsePostgresUrl(runDatabaseUrl(spec));
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    ...(target.options ? { options: target.options } : {}),
    application_name: 'herald bench',
    max,
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', () => undefined);
  return pool;
}

async function dropSchema(spec: ScaleRunSpec): Promise<void> {
  const client = new pg.Client({
    connectionString: parsePostgresUrl(spec.databaseUrl).connectionString,
    application_name: 'herald bench cleanup',
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    // Herald's connections were closed or killed just before; a backend that has not noticed
    // yet still holds locks, so wait for them a while rather than fail.
    await client.query(`SET lock_timeout = '15s'`);
    await client.query(`DROP SCHEMA IF EXISTS "${spec.name}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Every exchange and queue a Herald with prefix `name` declares (job queues, delay ladder,
 * dead letters, AMQP ingress), the broker-ceiling's queues (`<name>.ceiling.…`), and — when
 * the broker runs on this machine and `rabbitmqctl` answers — whatever else it lists under
 * the prefix (a build of another revision may declare names this checkout does not know).
 */
export function brokerObjects(spec: ScaleRunSpec): { queues: string[]; exchanges: string[] } {
  const queues = new Set<string>();
  const exchanges = new Set<string>();
  for (const prefix of [spec.name, ceilingPrefix(spec.name)]) {
    const t = new Topology(prefix, 1);
    for (const topic of HERALD_TOPICS)
      for (const lane of LANES) queues.add(t.jobQueue(topic, lane));
    for (const lane of LANES) for (const ms of RUNGS_MS) queues.add(t.rungQueue(lane, ms));
    queues.add(t.deadQueue);
    for (const e of [t.jobsExchange, t.delayExchange, t.deadExchange]) exchanges.add(e);
  }
  const ingress = ingressNames(ingressPrefix(spec.name));
  exchanges.add(ingress.exchange);
  queues.add(ingress.queue);
  queues.add(ingress.rejected);
  if (isLocal(spec.brokerUrl)) {
    for (const q of rabbitmqctlList('list_queues', spec.name)) queues.add(q);
    for (const e of rabbitmqctlList('list_exchanges', spec.name)) exchanges.add(e);
  }
  return { queues: [...queues], exchanges: [...exchanges] };
}

/** The broker ceiling's names live under the run's prefix too (one cleanup for both). */
export function ceilingPrefix(name: string): string {
  return `${name}.ceiling`;
}

function isLocal(url: string): boolean {
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
}

function rabbitmqctlList(command: string, name: string): string[] {
  try {
    const out = execFileSync('rabbitmqctl', [command, '-q', '--no-table-headers', 'name'], {
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith(`${name}.`));
  } catch {
    return [];
  }
}

/** Longest wait for one cleanup attempt's AMQP connection, and for the whole attempt. */
const CONNECT_TIMEOUT_MS = 10_000;
const ATTEMPT_TIMEOUT_MS = 60_000;

function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Deletes the run's queues and exchanges over AMQP; when the broker takes no new connection
 * (a broker out of file descriptors accepts the socket and never answers) and runs on this
 * machine, through `rabbitmqctl delete_queue` instead — the queues are what hold its
 * descriptors, so they must go even then.
 */
async function deleteBrokerObjects(spec: ScaleRunSpec): Promise<void> {
  const names = brokerObjects(spec);
  try {
    await withTimeout('RabbitMQ cleanup', ATTEMPT_TIMEOUT_MS, deleteOverAmqp(spec, names));
  } catch (err) {
    if (!isLocal(spec.brokerUrl)) throw err;
    deleteWithRabbitmqctl(names.queues);
  }
  if (isLocal(spec.brokerUrl)) {
    // Check: a queue left behind here would stay until someone notices.
    const left = rabbitmqctlList('list_queues', spec.name);
    if (left.length > 0)
      throw new Error(
        `${left.length} queues still there after the cleanup: ${left.slice(0, 3).join(', ')}…`,
      );
  }
}

function deleteWithRabbitmqctl(queues: readonly string[]): void {
  const listed = new Set(rabbitmqctlList('list_queues', queues[0]?.split('.')[0] ?? ''));
  for (const queue of queues.filter((q) => listed.has(q))) {
    execFileSync('rabbitmqctl', ['delete_queue', '-q', queue], {
      timeout: 30_000,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
}

async function deleteOverAmqp(
  spec: ScaleRunSpec,
  { queues, exchanges }: { queues: readonly string[]; exchanges: readonly string[] },
): Promise<void> {
  const connection = await connect(spec.brokerUrl, {
    timeout: CONNECT_TIMEOUT_MS,
    clientProperties: { connection_name: 'herald bench cleanup' },
  });
  connection.on('error', () => undefined);
  try {
    let channel: Channel | null = null;
    const open = async (): Promise<Channel> => {
      const c = await connection.createChannel();
      c.on('error', () => undefined);
      return c;
    };
    // An error closes the channel: open another and go on. A missing name (404) is fine;
    // anything else (a quorum queue whose deletion timed out on a busy broker) is reported,
    // so that the cleanup is tried again.
    const failed: string[] = [];
    const attempt = async (name: string, remove: (c: Channel) => Promise<unknown>) => {
      channel ??= await open();
      await remove(channel).catch((err: unknown) => {
        channel = null;
        if ((err as { code?: number }).code !== 404)
          failed.push(`${name}: ${(err as Error).message}`);
      });
    };
    for (const queue of queues) await attempt(queue, (c) => c.deleteQueue(queue));
    for (const exchange of exchanges) await attempt(exchange, (c) => c.deleteExchange(exchange));
    if (failed.length > 0)
      throw new Error(`${failed.length} broker objects not deleted, e.g. ${failed[0]}`);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * Retries `fn` for a while: another engineer's test may have stopped RabbitMQ or restarted
 * PostgreSQL for a few seconds just when the run ends.
 */
async function patiently(fn: () => Promise<void>, attempts = 6, waitMs = 3_000): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

/** Removes the run's schema and broker objects; both are attempted, the first failure thrown. */
export async function releaseRun(spec: ScaleRunSpec): Promise<void> {
  const results = await Promise.allSettled([
    patiently(() => deleteBrokerObjects(spec)),
    patiently(() => dropSchema(spec)),
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed)
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  rmSync(join(MARKERS, `${spec.name}.json`), { force: true });
}

/** The same from a process that cannot wait any more (process 'exit'): a child does it. */
function releaseRunSync(spec: ScaleRunSpec): void {
  const res = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/lib/scale-release.ts'), JSON.stringify(spec)],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 },
  );
  if (res.status !== 0) throw new Error(`scale-release exited with ${res.status ?? res.signal}`);
}

/**
 * Creates the run's marker and registers its cleanup. The schema itself is created by Herald
 * (from `?schema=`), the broker objects by Herald and the broker ceiling.
 */
/**
 * node-postgres takes the user from `$USER` when the URL names none (the default URL does
 * not); where that is unset (a service, a container), the account's name stands in. Herald's
 * children get PGUSER as well (see scaleEnv in scale-stack.ts).
 */
export function defaultPgUser(): string {
  process.env.PGUSER ??= process.env.USER || userInfo().username;
  return process.env.PGUSER;
}

export function reserveRun(
  databaseUrl: string,
  brokerUrl: string,
): {
  spec: ScaleRunSpec;
  resource: ExternalResource;
} {
  defaultPgUser();
  const spec: ScaleRunSpec = { name: newRunName(), databaseUrl, brokerUrl, pid: process.pid };
  mkdirSync(MARKERS, { recursive: true });
  writeFileSync(join(MARKERS, `${spec.name}.json`), JSON.stringify(spec, null, 2) + '\n');
  const resource: ExternalResource = {
    label: `schema ${spec.name} and broker objects ${spec.name}.*`,
    release: () => releaseRun(spec),
    releaseSync: () => releaseRunSync(spec),
  };
  trackResource(resource);
  return { spec, resource };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes what earlier runs left behind when their bench was killed (their pid is gone). */
export async function sweepLeftovers(log: (line: string) => void): Promise<void> {
  defaultPgUser();
  let files: string[];
  try {
    files = readdirSync(MARKERS).filter((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  for (const file of files) {
    let spec: ScaleRunSpec;
    try {
      spec = JSON.parse(readFileSync(join(MARKERS, file), 'utf8')) as ScaleRunSpec;
    } catch {
      continue;
    }
    if (spec.pid === process.pid || alive(spec.pid)) continue;
    log(`  removing what an earlier run left behind: ${spec.name} (bench pid ${spec.pid} is gone)`);
    try {
      await releaseRun(spec);
    } catch (err) {
      log(`  could not remove ${spec.name}: ${(err as Error).message}`);
    }
  }
}
