/**
 * Whatever the bench starts or creates is registered here, so that a normal end, a failure,
 * Ctrl-C or an uncaught error all leave no child process, no temporary folder and — in the
 * scale-out mode — no PostgreSQL schema and no RabbitMQ queue behind.
 */
import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

/** Something outside this process (a schema, broker objects) that must be removed at the end. */
export interface ExternalResource {
  readonly label: string;
  /** The normal way out. */
  release(): Promise<void>;
  /** The way out from process 'exit', where nothing asynchronous runs any more. */
  releaseSync(): void;
}

const resources = new Set<ExternalResource>();

export function trackChild(proc: ChildProcess): void {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
}

export function trackDir(dir: string): void {
  dirs.add(dir);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export function trackResource(resource: ExternalResource): void {
  resources.add(resource);
}

/**
 * Releases a tracked resource now. It stays tracked until that succeeded, so that an exit
 * meanwhile (a second Ctrl-C) still releases it synchronously.
 */
export async function releaseResource(resource: ExternalResource): Promise<void> {
  await resource.release();
  resources.delete(resource);
}

function killChildren(): void {
  for (const proc of children) {
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        proc.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

/** Synchronous, so it also works from process 'exit'. */
export function cleanupNow(): void {
  killChildren();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  dirs.clear();
  for (const resource of [...resources]) {
    resources.delete(resource);
    try {
      resource.releaseSync();
    } catch (err) {
      process.stderr.write(`bench: could not remove ${resource.label}: ${String(err)}\n`);
    }
  }
}

/**
 * Kills the children (their connections close, so nothing holds the schema or the queues),
 * then releases the external resources the asynchronous way, each within `timeoutMs`; what is
 * left is released synchronously by cleanupNow on 'exit'.
 */
async function cleanupAsync(timeoutMs = 20_000): Promise<void> {
  killChildren();
  for (const resource of [...resources]) {
    process.stderr.write(`bench: removing ${resource.label}\n`);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        releaseResource(resource),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      // Still tracked: the synchronous fallback on 'exit' has another go.
      process.stderr.write(`bench: ${resource.label}: ${(err as Error).message}\n`);
    } finally {
      clearTimeout(timer);
    }
  }
}

let installed = false;
/** performance.now() of the first signal or fatal error; null while running normally. */
let exitingSince: number | null = null;

function exitAfterCleanup(code: number): void {
  if (exitingSince !== null) return;
  exitingSince = performance.now();
  void cleanupAsync().finally(() => process.exit(code));
}

/**
 * Ctrl-C reaches every process of the terminal's group, and `npm run` and tsx pass it on to
 * their child as well: the bench gets the same SIGINT two or three times at once. Only a
 * repeat after this long means "stop cleaning up, exit now".
 */
const REPEAT_SIGNAL_MS = 3_000;

export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (exitingSince !== null) {
        if (performance.now() - exitingSince < REPEAT_SIGNAL_MS) return;
        process.stderr.write(`\nbench: ${signal} again, exiting now\n`);
        process.exit(130);
      }
      process.stderr.write(`\nbench: ${signal}, stopping children and removing temp folders\n`);
      exitAfterCleanup(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: uncaught ${err.stack ?? String(err)}\n`);
    exitAfterCleanup(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: unhandled rejection ${(err as Error)?.stack ?? String(err)}\n`);
    exitAfterCleanup(1);
  });
}
