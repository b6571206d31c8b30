import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import pino from 'pino';
import { buildApp, type BuildOptions, type Herald } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { testStore } from './fresh-db.js';
import { freshSchema } from './fresh-postgres.js';
import {
  deleteBrokerObjects,
  heraldBrokerObjects,
  testQueue,
  uniqueBrokerPrefix,
} from './broker.js';
import { TEST_BROKER_URL } from './services.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestHerald {
  readonly herald: Herald;
  readonly url: string;
  readonly dataDir: string;
  /** Demo source API keys by source key (demo only). */
  readonly keys: Readonly<Record<string, string>>;
  readonly password: string;
  close(): Promise<void>;
}

/** Herald in this process on a fresh data folder, listening on a free port. */
export async function startTestHerald(
  env: Record<string, string> = {},
  options: Omit<BuildOptions, 'logger'> = {},
): Promise<TestHerald> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-test-'));
  // HERALD_TEST_STORE=postgres: the same tests on a fresh PostgreSQL schema.
  const schema =
    testStore === 'postgres' && env.HERALD_DATABASE_URL === undefined ? await freshSchema() : null;
  // HERALD_TEST_QUEUE=rabbitmq: the same tests on RabbitMQ, under a name prefix of their own.
  const brokerPrefix =
    testQueue === 'rabbitmq' && env.HERALD_BROKER_URL === undefined ? uniqueBrokerPrefix() : null;
  const dropBroker = async (): Promise<void> => {
    if (brokerPrefix) await deleteBrokerObjects(heraldBrokerObjects(brokerPrefix));
  };
  const config = loadConfig({
    ...(schema ? { HERALD_DATABASE_URL: schema.url, HERALD_DATABASE_POOL_SIZE: '4' } : {}),
    ...(brokerPrefix
      ? { HERALD_BROKER_URL: TEST_BROKER_URL, HERALD_BROKER_PREFIX: brokerPrefix }
      : {}),
    HERALD_DATA_DIR: dataDir,
    HERALD_PORT: '0',
    HERALD_HOST: '127.0.0.1',
    HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
    HERALD_DEMO: 'true',
    HERALD_LOG_LEVEL: 'silent',
    ...env,
  });
  let herald: Herald;
  try {
    herald = await buildApp(config, { ...options, logger: pino({ level: 'silent' }) });
  } catch (err) {
    await schema?.drop();
    await dropBroker();
    throw err;
  }
  const url = (await herald.start('all'))!;
  return {
    herald,
    url,
    dataDir,
    keys: herald.demo?.apiKeys ?? {},
    password: herald.demo?.password ?? '',
    async close() {
      await herald.close();
      await schema?.drop();
      await dropBroker();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ChildHerald {
  readonly proc: ChildProcess;
  /** Where its HTTP API listens; empty for the `worker` and `scheduler` roles. */
  readonly url: string;
  /**
   * Where its /healthz, /readyz and /metrics answer: the API's URL for `api` and `all`; for
   * `worker` and `scheduler` the operations port (HERALD_OPS_PORT), empty without one.
   */
  readonly opsUrl: string;
  /** Everything the process printed on stdout so far: its start line and its log (pino). */
  output(): string;
  /** Everything it printed on stderr so far (start-up failures, a forced stop). */
  errors(): string;
  /** Settles when the process has exited: its exit code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (SIGKILL unless told), and waits for the process to be gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const ROOT = new URL('../../', import.meta.url).pathname;

export type HeraldRole = 'all' | 'api' | 'worker' | 'scheduler';

/** A Herald child process just launched: not yet known to have started. */
export type LaunchedHerald = Omit<ChildHerald, 'url' | 'opsUrl'>;

/**
 * Launches `node --import tsx src/main.ts <role>` and returns at once (spawnHerald waits for
 * its start line): for tests of what happens while it starts.
 */
export function launchHerald(
  dataDir: string,
  env: Record<string, string> = {},
  role: HeraldRole = 'all',
): LaunchedHerald {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), role], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HERALD_DATA_DIR: dataDir,
      HERALD_PORT: '0',
      HERALD_HOST: '127.0.0.1',
      HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
      HERALD_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    exited,
    output: () => out,
    errors: () => err,
    kill: (signal = 'SIGKILL') =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      }),
  };
}

/** Herald as a child process (`node src/main.ts <role>`), as an operator would run it. */
export async function spawnHerald(
  dataDir: string,
  env: Record<string, string> = {},
  role: HeraldRole = 'all',
): Promise<ChildHerald> {
  const child = launchHerald(dataDir, env, role);
  const { proc, output, errors, exited } = child;
  const { url, opsUrl } = await new Promise<{ url: string; opsUrl: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Herald did not start in 30 s:\n${output()}\n${errors()}`)),
      30_000,
    );
    const check = () => {
      const out = output();
      const api = /Herald is running at (http:\/\/\S+)/.exec(out);
      // `Herald worker is running (pid 123); metrics at http://127.0.0.1:9464/metrics`
      const other =
        /Herald (?:worker|scheduler) is running \(pid \d+\)(?:; metrics at (http:\/\/\S+)\/metrics)?\n/.exec(
          out,
        );
      if (api || other) {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        resolve(api ? { url: api[1]!, opsUrl: api[1]! } : { url: '', opsUrl: other![1] ?? '' });
      }
    };
    proc.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`Herald exited with ${code ?? signal}:\n${output()}\n${errors()}`));
    });
  });
  return { ...child, url, opsUrl };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A small JSON client over fetch for tests. */
export function client(base: string, token?: string) {
  return async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined
        ? { body: typeof body === 'string' ? body : JSON.stringify(body) }
        : {}),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, headers: res.headers, body: json as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
}
