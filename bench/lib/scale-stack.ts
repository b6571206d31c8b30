/**
 * Herald scaled out for one scenario: one `herald api` and N `herald worker` processes of the
 * bench's build on PostgreSQL (a fresh schema) and RabbitMQ (a fresh name prefix), both
 * removed again when the stack stops — or, if the bench dies first, by the cleanup handlers.
 *
 * The api starts first on the empty schema: it migrates it and seeds the demo university
 * (its banner carries the demo API keys); the workers start after it, with the sandbox on and
 * the demo seed off.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { newProfileDir, startHerald, startHeraldBackground } from './child.js';
import type { HeraldChild, Runtime, StartedChild } from './child.js';
import { releaseResource } from './cleanup.js';
import {
  benchPool,
  patientQuery,
  reserveRun,
  runDatabaseUrl,
  type BenchQuery,
  type ScaleRunSpec,
} from './scale-services.js';

export interface ScaleStackOptions {
  readonly runtime: Runtime;
  readonly databaseUrl: string;
  readonly brokerUrl: string;
  readonly workers: number;
  /** `--cpu-prof` folder of this scenario (one sub-folder per process), or none. */
  readonly profileDir?: string | undefined;
  /** When set, every process preloads pg-trace.mjs and writes `<name>.pgtrace` here. */
  readonly sqlTraceDir?: string | undefined;
  /** Extra HERALD_* settings for every process. */
  readonly env?: Record<string, string>;
  readonly log: (line: string) => void;
}

export interface ScaleStack {
  readonly spec: ScaleRunSpec;
  readonly api: HeraldChild;
  readonly workers: readonly StartedChild[];
  /** The bench's own queries on the run's schema (server-side times, drain checks). */
  readonly query: BenchQuery;
  /** Name and pid of every Herald process, the api first. */
  processes(): { name: string; pid: number }[];
  /** Throws when a Herald process has exited. */
  check(): void;
  /** Starts or stops the SQL tracers' recording (SIGUSR2 to every process), when tracing. */
  toggleSqlTrace(): void;
  /** The SQL trace file of each process (when tracing; written when it exits). */
  readonly sqlTraceFiles: Record<string, string>;
  /**
   * What each process logged (level warn and above, JSON lines on stderr): the count and the
   * last lines, so that a slow or failed run shows its reason (a broker that drops connections).
   */
  logs(): Record<string, { lines: number; last: string[] }>;
  /**
   * Stops the processes (SIGTERM, graceful; their CPU profiles are written then), then drops
   * the schema and deletes the broker objects. Returns the main-thread profile per process.
   */
  stop(): Promise<Record<string, string | null>>;
}

export async function startScaleStack(opts: ScaleStackOptions): Promise<ScaleStack> {
  const { spec, resource } = reserveRun(opts.databaseUrl, opts.brokerUrl);
  const env = {
    HERALD_DATABASE_URL: runDatabaseUrl(spec),
    HERALD_BROKER_URL: spec.brokerUrl,
    HERALD_BROKER_PREFIX: spec.name,
    // node-postgres needs a user when the URL names none (see defaultPgUser).
    PGUSER: process.env.PGUSER!,
    ...opts.env,
  };
  const profileFor = (name: string) =>
    opts.profileDir ? newProfileDir(opts.profileDir, name) : undefined;
  const sqlTraceFiles: Record<string, string> = {};
  const traceFor = (name: string) => {
    if (!opts.sqlTraceDir) return undefined;
    mkdirSync(opts.sqlTraceDir, { recursive: true });
    return (sqlTraceFiles[name] = join(opts.sqlTraceDir, `${name.replace(/\s+/g, '-')}.pgtrace`));
  };
  const started: StartedChild[] = [];
  let pool: pg.Pool | null = null;
  let stopping: Promise<Record<string, string | null>> | null = null;
  const teardown = (): Promise<Record<string, string | null>> => (stopping ??= stopAll());
  const stopAll = async (): Promise<Record<string, string | null>> => {
    const profiles: Record<string, string | null> = {};
    // Workers first: they hand back what they hold while the api's relay still runs.
    for (const child of [...started].reverse()) {
      const res = 'close' in child ? await (child as HeraldChild).close() : await child.stop();
      profiles[child.name] = res.profile;
    }
    await pool?.end().catch(() => undefined);
    await releaseResource(resource);
    return profiles;
  };
  try {
    opts.log(`  scale: schema and broker prefix ${spec.name}; starting herald api`);
    const api = await startHerald({
      runtime: opts.runtime,
      role: 'api',
      name: 'api',
      profileDir: profileFor('api'),
      sqlTraceFile: traceFor('api'),
      sqlTracer: 'pg',
      env: { ...env, HERALD_DEMO: 'true' },
    });
    started.push(api);
    const workers: StartedChild[] = [];
    for (let i = 1; i <= opts.workers; i++) {
      const worker = await startHeraldBackground({
        runtime: opts.runtime,
        role: 'worker',
        name: `worker ${i}`,
        profileDir: profileFor(`worker-${i}`),
        sqlTraceFile: traceFor(`worker ${i}`),
        env: { ...env, HERALD_DEMO: 'false', HERALD_SANDBOX: 'true' },
      });
      started.push(worker);
      workers.push(worker);
    }
    opts.log(
      `  scale: api pid ${api.pid} at ${api.url}, workers ${workers.map((w) => `pid ${w.pid}`).join(', ')}`,
    );
    pool = benchPool(spec);
    const all = [api, ...workers];
    return {
      spec,
      api,
      workers,
      query: patientQuery(pool),
      processes: () => all.map((c) => ({ name: c.name, pid: c.pid })),
      check() {
        for (const c of all) {
          if (c.exited()) throw new Error(`herald ${c.name} exited:\n${c.errors().slice(-3000)}`);
        }
      },
      toggleSqlTrace() {
        if (opts.sqlTraceDir) for (const c of all) process.kill(c.pid, 'SIGUSR2');
      },
      sqlTraceFiles,
      logs: () =>
        Object.fromEntries(
          all.map((c) => {
            const lines = c.errors().split('\n').filter(Boolean);
            return [
              c.name,
              { lines: lines.length, last: lines.slice(-5).map((l) => l.slice(0, 600)) },
            ];
          }),
        ),
      stop: teardown,
    };
  } catch (err) {
    await teardown().catch((e: unknown) =>
      opts.log(`  scale: cleanup after a failed start: ${(e as Error).message}`),
    );
    throw err;
  }
}

/** The stack of one scale-out scenario, with its profiles and SQL traces in `<root>/<scenario>`. */
export function startScenarioStack(
  opts: {
    readonly runtime: Runtime;
    readonly databaseUrl: string;
    readonly brokerUrl: string;
    readonly workers: number;
    readonly profileRoot: string | null;
    readonly sqlTraceRoot: string | null;
    readonly log: (line: string) => void;
  },
  scenario: string,
): Promise<ScaleStack> {
  return startScaleStack({
    runtime: opts.runtime,
    databaseUrl: opts.databaseUrl,
    brokerUrl: opts.brokerUrl,
    workers: opts.workers,
    profileDir: opts.profileRoot ? join(opts.profileRoot, scenario) : undefined,
    sqlTraceDir: opts.sqlTraceRoot ? join(opts.sqlTraceRoot, scenario) : undefined,
    log: opts.log,
  });
}
