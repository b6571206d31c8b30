/**
 * The operations endpoint of the roles that serve no API (`herald worker`, `herald
 * scheduler`): /healthz, /readyz and /metrics on a port of their own (HERALD_OPS_PORT), for
 * the load balancer's health checks and Prometheus. Nothing else is routed here — no API, no
 * docs, no web front end — so the port can be opened to the monitoring network alone.
 */
import Fastify, { LogController } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import type { Server } from '../http/server-types.js';
import { errorHandler, sendProblem } from '../http/error-handler.js';
import { Problem } from '../http/problem.js';
import type { Metrics } from './metrics.js';
import { opsRoutes } from './ops-routes.js';

export interface OpsServerOptions {
  readonly logger: Logger;
  readonly db: Db;
  readonly metrics: Metrics;
  readonly isReady: () => boolean;
}

export async function createOpsServer(opts: OpsServerOptions): Promise<Server> {
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'ops-server' }),
    logController: new LogController({ disableRequestLogging: true }),
    // Scrapes and probes carry no body.
    bodyLimit: 1024,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as Server;
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new Problem(
        'not-found',
        `No route for ${request.method} ${request.url.split('?')[0]} on the operations port (only /healthz, /readyz and /metrics)`,
      ),
    ),
  );
  // Probes every few seconds would drown the log at info: one line per request at debug.
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, path: request.url.split('?')[0], status: reply.statusCode },
      'ops request',
    );
  });
  opsRoutes(app, { db: opts.db, metrics: opts.metrics, isReady: opts.isReady });
  await app.ready();
  return app;
}
