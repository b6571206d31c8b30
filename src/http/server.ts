import Fastify, { LogController } from 'fastify';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { errorHandler, sendProblem } from './error-handler.js';
import { Problem } from './problem.js';
import type { Server } from './server-types.js';
import { actorOf } from '../auth/operators.js';

export interface ServerOptions {
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  readonly version: string;
  /** Trust X-Forwarded-For: only when a reverse proxy sets it. */
  readonly trustProxy: boolean;
}

/** A Fastify instance with Herald's conventions: TypeBox, problem+json errors, OpenAPI at /docs. */
export async function createServer(opts: ServerOptions): Promise<Server> {
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimitBytes,
    // Our own one-line request log (below) replaces Fastify's, which would log URLs and headers.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: opts.trustProxy,
    // Requests arriving while the server stops get Herald's own 503 (below), not Fastify's.
    return503OnClosing: false,
    // Requests Node's parser rejects (bad bytes in the URL …) still get a problem+json answer.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy(err);
      const body = JSON.stringify({
        type: 'https://herald.dev/problems/validation-failed',
        title: 'The request is not valid',
        status: 400,
        code: 'validation-failed',
        detail: 'The request could not be parsed (for example, unencoded characters in the URL)',
      });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('principal', null);
  // From the start of a graceful stop, a request on a kept-alive connection is told to go
  // elsewhere (another API process, or this one once restarted) and the connection closes.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!closing) return;
    reply.header('Connection', 'close');
    return sendProblem(
      request,
      reply,
      new Problem('unavailable', 'Herald is shutting down', {}, { 'Retry-After': '1' }),
    );
  });
  // The API speaks JSON (and CSV where a route says so): plain text is a 415, not a string body.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new Problem('not-found', `No route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
  // Log one line per request without query strings or headers (tokens never reach the log).
  // Requests with admin rights name who made them (an operator or the admin token): the
  // audit trail of what was done from the console.
  app.addHook('onResponse', async (request, reply) => {
    const actor = actorOf(request.principal);
    request.log.info(
      {
        method: request.method,
        path: request.routeOptions.url ?? request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(actor ? { actor } : {}),
      },
      'request',
    );
  });

  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Herald API',
        version: opts.version,
        description:
          'Unified message platform (统一消息管理平台). Errors are RFC 9457 application/problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'Admin token, source API key (hk_…) or user session (hs_…)',
          },
        },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  return app as unknown as Server;
}
