import { readFileSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import type { Config } from './config/config.js';
import { openStore } from './store/open-store.js';
import type { Db } from './store/database.js';
import { EmbeddedQueue } from './queue/embedded/embedded-queue.js';
import { RabbitMqQueue } from './queue/rabbitmq/rabbitmq-queue.js';
import { openQueue } from './runtime/open-queue.js';
import type { Queue } from './queue/queue.js';
import { systemClock, type Clock } from './time/clock.js';
import { newToken, sha256 } from './auth/secrets.js';
import { createServer } from './http/server.js';
import type { Server } from './http/server-types.js';
import { authGuards } from './http/auth-guards.js';
import { ApiKeyCache } from './sources/api-key-cache.js';
import { CachedLookups } from './runtime/cached-lookups.js';
import { Metrics } from './ops/metrics.js';
import { opsRoutes } from './ops/ops-routes.js';
import { createOpsServer } from './ops/ops-server.js';
import type { ProviderRegistry } from './channels/provider-registry.js';
import { buildProviders } from './channels/build-providers.js';
import { sandboxRoutes } from './channels/sandbox/sandbox-routes.js';
import { providersRoutes } from './providers/providers-routes.js';
import { providerFactory } from './providers/provider-factory.js';
import { ProviderChanges } from './providers/provider-changes.js';
import { InboxHub } from './inbox/inbox-hub.js';
import { inboxRoutes } from './inbox/inbox-routes.js';
import { TemplateRenderer } from './templates/template-renderer.js';
import { templatesRoutes } from './templates/templates-routes.js';
import { categoriesRoutes } from './categories/categories-routes.js';
import { sourcesRoutes } from './sources/sources-routes.js';
import { createApiKey, listSources } from './sources/sources-store.js';
import { usersRoutes } from './recipients/users-routes.js';
import { groupsRoutes } from './recipients/groups-routes.js';
import { preferencesRoutes } from './preferences/preferences-routes.js';
import { meRoutes } from './me/me-routes.js';
import { authRoutes } from './auth/auth-routes.js';
import { deleteExpiredSessions } from './auth/sessions-store.js';
import { inTransaction } from './store/transaction.js';
import { Ingest } from './messages/ingest.js';
import { messagesRoutes } from './messages/messages-routes.js';
import { AmqpIngress } from './ingress/amqp-ingress.js';
import { ingressOutcomeCounter } from './ingress/ingress-metrics.js';
import { ingressPrefix } from './ingress/ingress-names.js';
import { IngestQuotaGate } from './quotas/ingest-quota-gate.js';
import { quotaRoutes } from './quotas/quota-routes.js';
import { idempotencyRecords } from './messages/idempotency-store.js';
import { deadLettersRoutes } from './deliveries/dead-letters-routes.js';
import { createCallbacks } from './callbacks/callbacks.js';
import { callbackRoutes } from './callbacks/callback-routes.js';
import { startWorkers, type Workers } from './runtime/workers.js';
import { startWorkerThread } from './runtime/worker-host.js';
import type { RetryOptions } from './deliveries/retry-policy.js';
import { seedDemo, DEMO_EXAMPLES } from './demo/demo-seed.js';
import { webRoutes } from './web/web-routes.js';
import { consoleRoutes } from './console/console-routes.js';

export type Role = 'api' | 'worker' | 'scheduler' | 'all';

export interface DemoInfo {
  readonly password: string;
  /** Demo logins: Chinese- and English-speaking students, and the operator (console /admin). */
  readonly loginExamples: { readonly zh: string; readonly en: string; readonly operator: string };
  /** Source key → its freshly created API key (printed once at first start). */
  readonly apiKeys: Readonly<Record<string, string>>;
  readonly users: number;
}

export interface Herald {
  readonly config: Config;
  readonly server: Server;
  readonly db: Db;
  readonly queue: Queue;
  /** The group-commit ingest behind POST /v1/messages (the AMQP ingress feeds it too). */
  readonly ingest: Ingest;
  readonly providers: ProviderRegistry;
  readonly log: Logger;
  /** Set when this start generated the admin token: show it once. */
  readonly generatedAdminToken: string | null;
  /** Set when this start seeded the demo university. */
  readonly demo: DemoInfo | null;
  /**
   * Starts the parts of Herald this process runs (see docs/scale-out.md, "Which role runs
   * what") and returns the URL of its HTTP server: the API for `api` and `all`, the operations
   * endpoint for `worker` and `scheduler` when HERALD_OPS_PORT is set, else null.
   */
  start(role: Role): Promise<string | null>;
  /**
   * Graceful stop: stops taking work (readiness, HTTP, the AMQP ingress, leasing,
   * housekeeping), lets what is in hand finish (requests, jobs: their acks follow their
   * commits), gives back what was taken but not begun, then closes every connection.
   */
  close(): Promise<void>;
  /** While close() runs: the parts it still waits for (for the log of a stop that hangs). */
  closingParts(): readonly string[];
}

export interface BuildOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Backoff of delivery retries (tests shorten it). */
  readonly retry?: RetryOptions;
}

// src/app.ts and dist/app.js both sit one level below package.json.
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** The composition root: every adapter is chosen and wired here, and only here. */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<Herald> {
  const clock = options.clock ?? systemClock;
  const log =
    options.logger ??
    pino({ level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] });

  const store = await openStore(config, { migrate: true, log, applicationName: 'herald' });
  const { db, signals } = store;

  const generatedAdminToken = await ensureAdminToken(db, config);
  const adminHash = config.adminToken
    ? sha256(config.adminToken)
    : await readSetting(db, 'admin_token_hash');
  if (!adminHash) throw new Error('admin token hash missing after initialisation');

  // Queue wake-ups, inbox signals and invalidations reach everyone on this database: the
  // worker thread of `herald all`, and on PostgreSQL the other processes (LISTEN/NOTIFY).
  const { queue, outboxSize } = openQueue(config, {
    db,
    clock,
    log,
    embedded: () => new EmbeddedQueue(db, clock, signals),
    openPresence: store.openPresence,
  });
  const metrics = new Metrics({ queue, processMetrics: true });
  if (outboxSize) metrics.brokerOutbox(outboxSize);
  if (queue instanceof RabbitMqQueue && queue.outboxClaimMode !== null)
    metrics.outboxPresence(() => queue.outboxClaimMode === 'presence');
  const hub = new InboxHub(signals);
  const renderer = new TemplateRenderer({ defaultTimezone: 'Asia/Shanghai' });
  const providers = buildProviders(config, db, hub, clock, log, signals);
  metrics.providerCircuits(() => providers.circuits());
  const providerChanges = new ProviderChanges(signals);
  const callbacks = createCallbacks({
    queue,
    clock,
    allowCidrs: config.outboundAllowCidrs,
    channel: signals,
    retry: { baseMs: config.callbackRetryBaseMs, capMs: config.callbackRetryCapMs },
  });
  const ingest = new Ingest(
    db,
    queue,
    clock,
    (n) => metrics.messagesAccepted.inc(n),
    new IngestQuotaGate(config.timezone, (source, channel) =>
      metrics.quotaExceeded.inc({ source, channel }),
    ),
    callbacks.emitter,
  );
  // API keys and their sources, cached; a change made here reaches the others by signal.
  const apiKeys = new ApiKeyCache({ db, signals });
  const guards = authGuards(db, () => adminHash, clock, apiKeys);
  // Categories, sources and templates as the workers read them, cached likewise.
  const lookups = new CachedLookups({ signals });

  const demo = config.demo ? await seedIfEmpty(db, clock) : null;

  const server = await createServer({
    logger: log,
    bodyLimitBytes: config.bodyLimitBytes,
    version: VERSION,
    trustProxy: config.trustProxy,
  });
  let ready = false;
  opsRoutes(server, { db, metrics, isReady: () => ready });
  authRoutes(server, {
    db,
    clock,
    sessionTtlMs: config.sessionTtlHours * 3600_000,
    secureCookies: config.publicUrl.startsWith('https:'),
  });
  sourcesRoutes(server, { db, clock, guards, lookups });
  callbackRoutes(server, { db, clock, guards, callbacks });
  quotaRoutes(server, { db, clock, guards, timezone: config.timezone });
  categoriesRoutes(server, { db, clock, guards, lookups });
  templatesRoutes(server, { db, clock, guards, renderer, lookups });
  usersRoutes(server, { db, clock, guards });
  groupsRoutes(server, { db, clock, guards });
  messagesRoutes(server, { db, guards, ingest });
  inboxRoutes(server, {
    db,
    clock,
    guards,
    hub,
    heartbeatMs: config.sseHeartbeatSeconds * 1000,
    callbacks: callbacks.emitter,
  });
  preferencesRoutes(server, { db, clock, guards });
  meRoutes(server, { db, guards });
  deadLettersRoutes(server, { db, clock, queue, guards });
  sandboxRoutes(server, { db, guards });
  consoleRoutes(server, { db, clock, guards, queue, renderer });
  providersRoutes(server, {
    db,
    clock,
    guards,
    factory: providerFactory({
      allowCidrs: config.outboundAllowCidrs,
      publicUrl: config.publicUrl,
    }),
    changes: providerChanges,
  });
  await webRoutes(server);

  let workers: Workers | null = null;
  let ingress: AmqpIngress | null = null;
  let opsServer: Server | null = null;
  let housekeeping: Housekeeping | null = null;
  let listening = false;
  let closing: Promise<void> | null = null;
  const waitingFor = new Set<string>();
  /** Awaits one part of close(), named in closingParts() until it has settled. */
  const part = async (name: string, work: Promise<unknown> | undefined): Promise<void> => {
    if (!work) return;
    waitingFor.add(name);
    try {
      await work;
    } finally {
      waitingFor.delete(name);
    }
  };

  return {
    config,
    server,
    db,
    queue,
    ingest,
    providers,
    log,
    generatedAdminToken,
    demo,
    async start(role) {
      let opsUrl: string | null = null;
      if ((role === 'worker' || role === 'scheduler') && config.opsPort !== null) {
        // First, so a taken port stops start-up before any work is taken; /readyz says 503
        // until the role has started.
        opsServer = await createOpsServer({ logger: log, db, metrics, isReady: () => ready });
        opsUrl = await opsServer.listen({ port: config.opsPort, host: config.host });
      }
      if (role === 'all' && config.workerThread) {
        const thread = await startWorkerThread(config, log);
        metrics.addRemote(() => thread.metrics());
        workers = thread;
      } else if (role === 'worker' || role === 'all') {
        // Configured providers are loaded before the first lease, then kept current.
        await providers.refresh();
        providers.watch();
        workers = startWorkers({
          db,
          queue,
          clock,
          providers,
          renderer,
          metrics,
          log,
          leaseMs: config.leaseSeconds * 1000,
          concurrency: config.workerConcurrency,
          retry: options.retry ?? { baseMs: config.retryBaseMs, capMs: config.retryCapMs },
          timezone: config.timezone,
          callbackEmitter: callbacks.emitter,
          callbackDelivery: callbacks.delivery,
          lookups,
        });
      }
      if (role === 'scheduler' || role === 'all') {
        housekeeping = startHousekeeping(log, async () => {
          const now = clock();
          await idempotencyRecords.purgeExpired(db, now);
          await deleteExpiredSessions(db, now);
        });
      }
      ready = true;
      if ((role === 'api' || role === 'all') && config.brokerUrl && config.amqpIngress) {
        const outcomes = ingressOutcomeCounter(metrics.registry);
        ingress = new AmqpIngress({
          url: config.brokerUrl,
          // herald → exchange herald.ingress, queues herald.ingress and herald.ingress.rejected.
          prefix: ingressPrefix(config.brokerPrefix),
          db,
          ingest,
          log,
          clock,
          bodyLimitBytes: config.bodyLimitBytes,
          onOutcome: (outcome) => outcomes.inc({ outcome }),
        });
        // Not awaited: HTTP serves while the broker is away; the ingress connects with backoff.
        void ingress.start().catch(() => undefined);
      }
      if (role === 'api' || role === 'all') {
        listening = true;
        return server.listen({ port: config.port, host: config.host });
      }
      return opsUrl;
    },
    close() {
      closing ??= (async () => {
        ready = false;
        // Stop taking work, and let what is in hand finish: the HTTP server refuses new
        // connections, answers the requests it has (each 202 was committed first) and ends
        // the inbox streams; the ingress stops consuming and settles its deliveries; the job
        // loops stop leasing and finish their jobs (acks go out after the commits). Side by
        // side: in `herald all` none of them waits for another.
        await Promise.all([
          part('AMQP ingress', ingress?.stop()),
          part('HTTP server', listening ? server.close() : undefined),
          part('job loops', workers?.stop()),
          part('housekeeping', housekeeping?.stop()),
        ]);
        await part('status callbacks', callbacks.close());
        await part('providers', providers.close());
        providerChanges.close();
        apiKeys.close();
        lookups.close();
        // Gives back what this process holds but never began (RabbitMQ: buffered deliveries go
        // back to the broker for the other workers) and stops the outbox relay; rows it has
        // not published wait for the relay of another process, or of this one's next start.
        await part('queue', queue.close());
        // The operations port answers (readiness 503) until the work is done.
        await part('operations port', opsServer?.close());
        hub.close();
        // A server that never listened (worker, scheduler) was never booted either: closing it
        // would first boot every plugin (swagger, static files …) — most of a second, for nothing.
        await part('store', store.close());
      })();
      return closing;
    },
    closingParts: () =>
      [...waitingFor].map((p) =>
        p === 'job loops' && workers?.stopping ? `job loops (${workers.stopping().join(', ')})` : p,
      ),
  };
}

async function readSetting(db: Db, key: string): Promise<string | null> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', key)
    .executeTakeFirst();
  return row?.value ?? null;
}

/** Generates and stores (hashed) an admin token on first start unless one is configured. */
async function ensureAdminToken(db: Db, config: Config): Promise<string | null> {
  if (config.adminToken) return null;
  if (await readSetting(db, 'admin_token_hash')) return null;
  const token = newToken('ha');
  const res = await db
    .insertInto('settings')
    .values({ key: 'admin_token_hash', value: sha256(token) })
    // Another process on the same PostgreSQL database may be starting too: its token wins.
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return (res.numInsertedOrUpdatedRows ?? 0n) > 0n ? token : null;
}

/**
 * Seeds the demo university into an empty database and creates one API key per source.
 * Several processes may start with HERALD_DEMO on one PostgreSQL database at once: each
 * claims the `demo_seed` setting in the transaction that seeds, so exactly one seeds (and
 * prints the keys); the others wait for its commit, find the claim taken and skip.
 */
async function seedIfEmpty(db: Db, clock: Clock): Promise<DemoInfo | null> {
  const anyUser = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  const anySource = await db.selectFrom('sources').select('id').limit(1).executeTakeFirst();
  if (anyUser || anySource) return null;
  return inTransaction(db, async (tx) => {
    const claim = await tx
      .insertInto('settings')
      .values({ key: 'demo_seed', value: String(clock()) })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    if ((claim.numInsertedOrUpdatedRows ?? 0n) === 0n) return null;
    const seeded = await seedDemo(tx, clock());
    const apiKeys: Record<string, string> = {};
    for (const source of await listSources(tx)) {
      apiKeys[source.key] = (await createApiKey(tx, source.id, clock())).secret;
    }
    return {
      password: seeded.password,
      loginExamples: seeded.loginExamples,
      apiKeys,
      users: seeded.users,
    };
  });
}

interface Housekeeping {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/** The scheduler's periodic clean-up: once shortly after start, then every 10 minutes. */
function startHousekeeping(log: Logger, run: () => Promise<void>): Housekeeping {
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = (): void => {
    if (stopped || running) return;
    running = run()
      .catch((err: unknown) => log.error({ err }, 'housekeeping failed'))
      .finally(() => (running = null));
  };
  const first = setTimeout(tick, 5_000);
  const every = setInterval(tick, 10 * 60_000);
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(every);
      await running;
    },
  };
}

export { DEMO_EXAMPLES };
