import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { FromWorker, ToWorker } from './worker-thread.js';
import type { Workers } from './workers.js';

export interface ThreadWorkers extends Workers {
  /** The worker thread's metrics (prom-client JSON), for the main thread's /metrics. */
  metrics(): Promise<unknown[]>;
}

/**
 * Starts the worker role in a worker thread. From the TypeScript sources (tests, `npm run
 * dev`) the thread registers tsx first; from the build it loads the compiled file directly.
 */
export async function startWorkerThread(config: Config, log: Logger): Promise<ThreadWorkers> {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './worker-thread.ts' : './worker-thread.js', import.meta.url);
  const worker = fromSource
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`,
        { eval: true, workerData: { config } },
      )
    : new Worker(entry, { workerData: { config } });

  let nextId = 0;
  const pending = new Map<number, (metrics: unknown[]) => void>();
  let stopped: (() => void) | null = null;
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'metrics') pending.get(m.id)?.(m.metrics as unknown[]);
    if (m.type === 'stopped') stopped?.();
  });
  // Without its workers Herald would accept messages it never delivers: a dead worker thread
  // takes the process down, for the service manager to restart it (nothing accepted is lost).
  worker.on('error', (err) => {
    log.fatal({ err }, 'worker thread failed; exiting');
    process.exit(70);
  });
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type === 'started') {
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve();
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
  const send = (m: ToWorker) => worker.postMessage(m);
  return {
    metrics: () =>
      new Promise((resolve) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve([]);
        }, 1000);
        pending.set(id, (metrics) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(metrics);
        });
        send({ type: 'metrics', id });
      }),
    async stop() {
      await new Promise<void>((resolve) => {
        stopped = resolve;
        worker.once('exit', () => resolve());
        send({ type: 'stop' });
      });
      await worker.terminate();
    },
  };
}
