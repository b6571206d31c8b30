/**
 * The worker role in a thread of its own, for `herald all`: fan-out and delivery run on the
 * second core with their own database connection (SQLite) or pool (PostgreSQL), so the API's
 * event loop only serves HTTP. Queue wake-ups and inbox signals travel on the store's peer
 * signals (BroadcastChannels named after the SQLite file, or LISTEN/NOTIFY); metrics are
 * handed to the main thread on request.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import type { Config } from '../config/config.js';
import { openStore } from '../store/open-store.js';
import { EmbeddedQueue } from '../queue/embedded/embedded-queue.js';
import { openQueue } from './open-queue.js';
import { systemClock } from '../time/clock.js';
import { Metrics } from '../ops/metrics.js';
import { RabbitMqQueue } from '../queue/rabbitmq/rabbitmq-queue.js';
import { CachedLookups } from './cached-lookups.js';
import { InboxHub } from '../inbox/inbox-hub.js';
import { TemplateRenderer } from '../templates/template-renderer.js';
import { buildProviders } from '../channels/build-providers.js';
import { startWorkers } from './workers.js';
import { createCallbacks } from '../callbacks/callbacks.js';

export type ToWorker = { type: 'stop' } | { type: 'metrics'; id: number };
export type FromWorker =
  { type: 'started' } | { type: 'stopped' } | { type: 'metrics'; id: number; metrics: unknown };

const { config } = workerData as { config: Config };
const port = parentPort!;
const log = pino({ level: config.logLevel }).child({ thread: 'worker' });
// The main thread has migrated already.
const store = await openStore(config, {
  migrate: false,
  log,
  applicationName: 'herald worker',
});
const { db, signals } = store;
const clock = systemClock;
const { queue } = openQueue(config, {
  db,
  clock,
  log,
  embedded: () => new EmbeddedQueue(db, clock, signals),
  openPresence: store.openPresence,
});
const hub = new InboxHub(signals);
const metrics = new Metrics({ queue: null, processMetrics: false });
const providers = buildProviders(config, db, hub, clock, log, signals);
metrics.providerCircuits(() => providers.circuits());
// This thread's outbox relay claims under its own presence: its state joins the main thread's.
if (queue instanceof RabbitMqQueue && queue.outboxClaimMode !== null)
  metrics.outboxPresence(() => queue.outboxClaimMode === 'presence');
// Configured providers are loaded before the first lease, then kept current.
await providers.refresh();
providers.watch();
const callbacks = createCallbacks({
  queue,
  clock,
  allowCidrs: config.outboundAllowCidrs,
  channel: signals,
  retry: { baseMs: config.callbackRetryBaseMs, capMs: config.callbackRetryCapMs },
});
// Categories, sources and templates: forgotten when the API (main thread or another process)
// changes them, via the same peer signals.
const lookups = new CachedLookups({ signals });
const workers = startWorkers({
  db,
  queue,
  clock,
  providers,
  renderer: new TemplateRenderer({ defaultTimezone: 'Asia/Shanghai' }),
  metrics,
  log,
  leaseMs: config.leaseSeconds * 1000,
  concurrency: config.workerConcurrency,
  retry: { baseMs: config.retryBaseMs, capMs: config.retryCapMs },
  timezone: config.timezone,
  callbackEmitter: callbacks.emitter,
  callbackDelivery: callbacks.delivery,
  lookups,
});

port.on('message', (message: ToWorker) => {
  if (message.type === 'metrics') {
    void metrics.registry
      .getMetricsAsJSON()
      .then((m) =>
        port.postMessage({ type: 'metrics', id: message.id, metrics: m } satisfies FromWorker),
      );
  } else if (message.type === 'stop') {
    void (async () => {
      await workers.stop();
      lookups.close();
      await callbacks.close();
      await providers.close();
      await queue.close();
      hub.close();
      await store.close();
      port.postMessage({ type: 'stopped' } satisfies FromWorker);
      port.close();
    })();
  }
});
port.postMessage({ type: 'started' } satisfies FromWorker);
