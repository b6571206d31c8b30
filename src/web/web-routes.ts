/**
 * Serves the web front end (`web/`, built by Vite into `web/dist/`) at `/`: the message
 * center and, under `/admin`, the console. Vite's hashed files under `/assets/` are cached
 * for a year; any other GET that asks for HTML and names no file gets `index.html`, so a deep
 * link (`/admin/messages/…`) opens the app, whose router takes it from there. Everything else
 * that matches nothing (`/v1/…`, a missing asset) stays the API's problem+json 404.
 */
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Server } from '../http/server-types.js';

/** `web/dist` of the project, seen from `src/web/` (tsx) and from `dist/web/` (the build). */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** The app loads only its own scripts and styles and talks only to this origin. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>Herald</h1>
<p>网页界面尚未构建。请在项目目录运行 <code>npm run build</code>，然后重启 Herald。</p>
<p>The web interface has not been built. Run <code>npm run build</code> in the project folder, then restart Herald.</p>
<p><a href="/docs">API documentation</a></p>
</body></html>
`;

function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html');
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'same-origin');
}

export async function webRoutes(app: Server, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? WEB_DIST;
  const built = existsSync(`${root}/index.html`);
  if (built) {
    await app.register(fastifyStatic, {
      root,
      serve: false,
      // Files change only with a new build; index.html is always checked again.
      cacheControl: false,
      etag: true,
      lastModified: true,
    });
  }

  const sendIndex = (reply: FastifyReply) =>
    built
      ? securityHeaders(reply).header('Cache-Control', 'no-cache').sendFile('index.html')
      : reply
          .code(503)
          .header('Retry-After', '60')
          .type('text/html; charset=utf-8')
          .send(NOT_BUILT);

  app.get('/', { schema: { hide: true } }, (_request, reply) => sendIndex(reply));

  app.get('/*', { schema: { hide: true } }, (request, reply) => {
    const path = `/${(request.params as { '*': string })['*']}`;
    if (path.startsWith('/v1/')) return reply.callNotFound();
    if (extname(path) !== '') {
      if (!built) return reply.callNotFound();
      if (path.startsWith('/assets/')) {
        reply.header('Cache-Control', 'public, max-age=31536000, immutable');
      } else {
        reply.header('Cache-Control', 'no-cache');
      }
      reply.header('X-Content-Type-Options', 'nosniff');
      // @fastify/send keeps the path inside root and answers 404 (→ not-found handler) itself.
      return reply.sendFile(path.slice(1));
    }
    if (wantsHtml(request)) return sendIndex(reply);
    return reply.callNotFound();
  });
}
