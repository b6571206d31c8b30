/**
 * Child processes under test: Herald itself (`main.js all`, as an operator runs it) and the
 * bare-Fastify ceiling server. Each gets a fresh data folder, is optionally CPU-profiled
 * (`node --cpu-prof`), and is always stopped and cleaned up (see cleanup.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { removeDir, trackChild, trackDir } from './cleanup.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `dist`: a snapshot of src/ compiled by the project's tsc into a private folder and run
 * with plain `node`, like `npm start` — no TypeScript loader thread in the measured process.
 * `tsx`: `node --import tsx src/main.ts`, like the e2e tests' spawnHerald.
 */
export type Runtime = 'dist' | 'tsx';

/** Private build output: ignored by git, eslint and prettier; node_modules resolve from here. */
export const BUILD_ROOT = join(ROOT, 'node_modules/.cache/herald-bench');
const SNAPSHOT = join(BUILD_ROOT, 'src');
const DIST = join(BUILD_ROOT, 'dist');

export interface BuildInfo {
  /** `worktree` (src/ as it is now, uncommitted edits included) or the git revision built. */
  readonly source: string;
  /** The commit: of `source`, or HEAD under a worktree build. */
  readonly commit: string | null;
  /** sha256 of the snapshot's files, to tell later which code a result belongs to. */
  readonly snapshotSha256: string;
  readonly files: number;
  readonly ms: number;
  /** tsc's exit code: non-zero means type errors (JS was still emitted). */
  readonly tscExit: number;
  readonly diagnostics: string;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

/**
 * Snapshots src/ (the working tree, or `git archive <rev>`) into BUILD_ROOT/src — others may be
 * editing src/ while the bench runs — and compiles it with the project's tsc and compiler
 * options (as tsconfig.build.json does) into BUILD_ROOT/dist. app.js reads ../package.json,
 * so a copy sits beside dist/.
 */
export function buildDist(source: string): BuildInfo {
  const started = performance.now();
  rmSync(SNAPSHOT, { recursive: true, force: true });
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(BUILD_ROOT, { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(BUILD_ROOT, 'package.json'));
  if (source === 'worktree') {
    cpSync(join(ROOT, 'src'), SNAPSHOT, { recursive: true });
  } else {
    const tar = spawnSync('git', ['archive', '--format=tar', source, 'src'], {
      cwd: ROOT,
      maxBuffer: 256 * 1024 * 1024,
    });
    if (tar.status !== 0)
      throw new Error(`git archive ${source} src failed: ${tar.stderr.toString()}`);
    const untar = spawnSync('tar', ['-x', '-C', BUILD_ROOT], { input: tar.stdout });
    if (untar.status !== 0) throw new Error(`tar -x failed: ${untar.stderr.toString()}`);
  }
  const hash = createHash('sha256');
  const files = listFiles(SNAPSHOT);
  for (const f of files) hash.update(relative(SNAPSHOT, f)).update('\0').update(readFileSync(f));
  writeFileSync(
    join(BUILD_ROOT, 'tsconfig.json'),
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: { rootDir: 'src', outDir: 'dist' },
      include: ['src'],
      exclude: ['src/**/*.test.ts', 'src/**/*.contract.ts'],
    }),
  );
  const res = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(BUILD_ROOT, 'tsconfig.json')],
    { cwd: ROOT, encoding: 'utf8', timeout: 180_000 },
  );
  const diagnostics = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim();
  if (!existsSync(join(DIST, 'main.js'))) {
    throw new Error(`tsc did not produce ${join(DIST, 'main.js')}:\n${diagnostics}`);
  }
  const rev = spawnSync('git', ['rev-parse', source === 'worktree' ? 'HEAD' : source], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return {
    source,
    commit: rev.status === 0 ? rev.stdout.trim() : null,
    snapshotSha256: hash.digest('hex'),
    files: files.length,
    ms: performance.now() - started,
    tscExit: res.status ?? -1,
    diagnostics: diagnostics.slice(0, 5000),
  };
}

export interface StartedChild {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Monotonic ms (performance.now) when the child printed its ready line. */
  readonly readyAt: number;
  readonly startupMs: number;
  output(): string;
  errors(): string;
  /** True once the child exited (for whatever reason). */
  exited(): boolean;
  /**
   * SIGTERM (graceful: the CPU profile is written on exit), SIGKILL after `graceMs`. Returns
   * the path of the main-thread .cpuprofile when profiling.
   */
  stop(
    graceMs?: number,
  ): Promise<{ code: number | null; signal: string | null; profile: string | null }>;
}

export interface ChildSpec {
  readonly name: string;
  /** Node arguments after the profiling flags: script and its arguments. */
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  /** Matched against stdout; the child is ready when it matches. */
  readonly ready: RegExp;
  readonly startTimeoutMs?: number;
  /** When set, `--cpu-prof` writes into this folder. */
  readonly profileDir?: string | undefined;
  /** Give the child a stdin pipe (`proc.stdin`) instead of none. */
  readonly stdin?: boolean;
}

export async function startChild(spec: ChildSpec): Promise<StartedChild> {
  const nodeArgs = [
    ...(spec.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${spec.profileDir}`] : []),
    ...spec.args,
  ];
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      ...spec.env,
    },
    stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  trackChild(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  let gone = false;
  const exitedPromise = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      gone = true;
      resolve({ code, signal });
    }),
  );

  const readyAt = await new Promise<number>((resolve, reject) => {
    const timeoutMs = spec.startTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${spec.name} did not start within ${timeoutMs} ms:\n${out}\n${err}`));
    }, timeoutMs);
    const check = () => {
      if (spec.ready.test(out)) {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        resolve(performance.now());
      }
    };
    proc.stdout!.on('data', check);
    void exitedPromise.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`${spec.name} exited (${code ?? signal}) before it was ready:\n${out}\n${err}`),
      );
    });
  });

  return {
    name: spec.name,
    proc,
    pid: proc.pid!,
    readyAt,
    startupMs: readyAt - spawnedAt,
    output: () => out,
    errors: () => err,
    exited: () => gone,
    async stop(graceMs = 30_000) {
      if (!gone) proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const res = await exitedPromise;
      clearTimeout(killer);
      let profile: string | null = null;
      if (spec.profileDir && existsSync(spec.profileDir)) {
        // CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile — thread 0 is the main thread.
        const files = readdirSync(spec.profileDir).filter((f) =>
          new RegExp(`\\.${proc.pid}\\.0\\.\\d+\\.cpuprofile$`).test(f),
        );
        profile = files.length > 0 ? join(spec.profileDir, files.sort().at(-1)!) : null;
      }
      return { ...res, profile };
    },
  };
}

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

export interface HeraldChild extends StartedChild {
  readonly url: string;
  readonly dataDir: string;
  /** Demo source API keys from the start banner, by source key (jwc, hq, …). */
  readonly keys: Readonly<Record<string, string>>;
  readonly adminToken: string;
  /** Stops Herald and removes its data folder. */
  close(): ReturnType<StartedChild['stop']>;
}

/**
 * The environment of a Herald child: HERALD_* settings of the bench's own environment reach
 * Herald (e.g. HERALD_WORKER_THREAD=false), except the ones the bench must control.
 */
function heraldEnv(dataDir: string, sqlTraceFile: string | undefined, env: Record<string, string>) {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] => e[0].startsWith('HERALD_') && e[1] !== undefined,
      ),
    ),
    HERALD_DATA_DIR: dataDir,
    HERALD_PORT: '0',
    HERALD_HOST: '127.0.0.1',
    HERALD_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
    HERALD_LOG_LEVEL: 'warn',
    HERALD_DEMO: 'true',
    ...(sqlTraceFile ? { BENCH_SQL_TRACE: sqlTraceFile } : {}),
    ...env,
  };
}

/** sql-trace.mjs times better-sqlite3 statements, pg-trace.mjs node-postgres queries. */
export type SqlTracer = 'sqlite' | 'pg';

function tracePreload(file: string | undefined, tracer: SqlTracer = 'sqlite'): string[] {
  if (!file) return [];
  const module = tracer === 'pg' ? 'bench/lib/pg-trace.mjs' : 'bench/lib/sql-trace.mjs';
  return ['--import', pathToFileURL(join(ROOT, module)).href];
}

function heraldScript(runtime: Runtime): string[] {
  return runtime === 'dist'
    ? [join(DIST, 'main.js')]
    : ['--import', 'tsx', join(ROOT, 'src/main.ts')];
}

/** Herald (`all` role unless told) on a FRESH data folder with the demo seed, log level warn. */
export async function startHerald(opts: {
  runtime: Runtime;
  profileDir?: string | undefined;
  /** When set, preload sql-trace.mjs and write its numbers here (SIGUSR2 toggles recording). */
  sqlTraceFile?: string | undefined;
  /** Which tracer: better-sqlite3's statements (default) or node-postgres's queries. */
  sqlTracer?: SqlTracer;
  /** `all` (default: API + workers + scheduler in one process) or `api` (no workers). */
  role?: 'all' | 'api';
  env?: Record<string, string>;
  /** Name of the child in messages (default `herald`). */
  name?: string;
}): Promise<HeraldChild> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  trackDir(dataDir);
  const trace = tracePreload(opts.sqlTraceFile, opts.sqlTracer);
  let child: StartedChild;
  try {
    child = await startChild({
      name: opts.name ?? 'herald',
      args: [...trace, ...heraldScript(opts.runtime), opts.role ?? 'all'],
      env: heraldEnv(dataDir, opts.sqlTraceFile, opts.env ?? {}),
      // The banner is one write; the last demo key line means it is complete.
      ready: /Herald is running at (http:\/\/\S+)[\s\S]*Demo source API keys[\s\S]*\n\s+xsc\s+\S+/,
      startTimeoutMs: 60_000,
      profileDir: opts.profileDir,
    });
  } catch (err) {
    removeDir(dataDir);
    throw err;
  }
  const banner = child.output();
  const url = /Herald is running at (http:\/\/\S+)/.exec(banner)![1]!;
  const keys: Record<string, string> = {};
  for (const m of banner.matchAll(/^ {4}([a-z]+)\s+(hk_\S+)$/gm)) keys[m[1]!] = m[2]!;
  if (!keys.jwc) {
    await child.stop(5_000);
    removeDir(dataDir);
    throw new Error(`no jwc API key in Herald's banner:\n${banner}`);
  }
  return {
    ...child,
    url,
    dataDir,
    keys,
    adminToken: BENCH_ADMIN_TOKEN,
    async close() {
      const res = await child.stop();
      removeDir(dataDir);
      return res;
    },
  };
}

/**
 * A Herald process without HTTP (`worker` or `scheduler`), ready when it prints
 * `Herald <role> is running (pid N)`, on a fresh data folder that `stop` removes (nothing is
 * written there on PostgreSQL).
 */
export async function startHeraldBackground(opts: {
  runtime: Runtime;
  role: 'worker' | 'scheduler';
  name: string;
  profileDir?: string | undefined;
  /** When set, preload pg-trace.mjs and write its numbers here (SIGUSR2 toggles recording). */
  sqlTraceFile?: string | undefined;
  env?: Record<string, string>;
}): Promise<StartedChild> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  trackDir(dataDir);
  try {
    const child = await startChild({
      name: opts.name,
      args: [...tracePreload(opts.sqlTraceFile, 'pg'), ...heraldScript(opts.runtime), opts.role],
      env: heraldEnv(dataDir, opts.sqlTraceFile, opts.env ?? {}),
      ready: new RegExp(`Herald ${opts.role} is running \\(pid \\d+\\)`),
      startTimeoutMs: 60_000,
      profileDir: opts.profileDir,
    });
    return {
      ...child,
      async stop(graceMs) {
        const res = await child.stop(graceMs);
        removeDir(dataDir);
        return res;
      },
    };
  } catch (err) {
    removeDir(dataDir);
    throw err;
  }
}

/** Where one run keeps its CPU profiles. */
export function newProfileDir(parent: string, label: string): string {
  const dir = join(parent, label);
  mkdirSync(dir, { recursive: true });
  return dir;
}
