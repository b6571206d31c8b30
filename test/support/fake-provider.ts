import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isValid } from '../../src/webhooks/standard-webhooks.js';

/**
 * Test support: a local webhook receiver whose behaviour a test scripts.
 *
 * Every request is recorded (headers, raw and parsed body, arrival time, whether its Standard
 * Webhooks signature is valid under `secret`, and what it was answered). What each request is
 * answered comes from, in this order: the queue of next behaviours (`next(...)`), the
 * flapping mode (`flap(...)`: fail with probability p, seeded), the steady mode (`steady(...)`,
 * default `ok`). A request whose signature is not valid is answered 401 without consuming a
 * behaviour (unless `rejectInvalid` is false).
 *
 * The same control is reachable over HTTP for tests that run Herald in another process:
 * `POST /_control` with `{ "next": [...], "steady": …, "flap": {…} | null, "clear": true }`
 * and `GET /_control` for the counts.
 */
export type Behaviour =
  | 'ok'
  | 'hang'
  | 'reset'
  | { readonly ok: true; readonly id?: string | null; readonly status?: number }
  | { readonly status: number; readonly retryAfter?: string }
  | { readonly slow: number }
  | { readonly hang: true }
  | { readonly reset: true };

export const behaviours = {
  ok: 'ok',
  hang: 'hang',
  reset: 'reset',
  status: (status: number, retryAfter?: string): Behaviour =>
    retryAfter === undefined ? { status } : { status, retryAfter },
  /** 429 with `Retry-After: <seconds>` (or an HTTP date given as a string). */
  tooMany: (retryAfter: number | string): Behaviour => ({
    status: 429,
    retryAfter: String(retryAfter),
  }),
  slow: (ms: number): Behaviour => ({ slow: ms }),
} as const;

export type Answer = number | 'hang' | 'reset';

export interface ReceivedRequest {
  readonly seq: number;
  /** `Date.now()` when the body was complete. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The JSON body, or null when it was not JSON. */
  readonly body: unknown;
  /** The `webhook-id` header (the delivery id for the webhook channel). */
  readonly webhookId: string | null;
  readonly signatureValid: boolean;
  /** Status sent back; `hang` / `reset` when none was. Set once decided. */
  answer: Answer;
}

export interface FlapOptions {
  /** Probability in [0, 1] that a request fails. */
  readonly p: number;
  readonly seed: number;
  /** What a failing request gets (default 503). */
  readonly failure?: Behaviour;
}

export interface FakeProviderOptions {
  /** `whsec_…` the signatures are checked with; settable later through `secret`. */
  readonly secret?: string;
  /** Answer 401 to a request without a valid signature (default true). */
  readonly rejectInvalid?: boolean;
  /** Path that receives webhooks (default `/hook`); any other path but `/_control` is 404. */
  readonly path?: string;
}

export interface FakeProviderStats {
  readonly requests: number;
  readonly validSignatures: number;
  readonly invalidSignatures: number;
  /** Requests answered 2xx. */
  readonly accepted: number;
  /** Distinct webhook-ids answered 2xx at least once. */
  readonly uniqueAccepted: number;
  /** 2xx answers for a webhook-id that had already been answered 2xx. */
  readonly duplicates: number;
}

export class FakeProvider {
  readonly requests: ReceivedRequest[] = [];
  secret: string | undefined;
  rejectInvalid: boolean;
  private readonly queue: Behaviour[] = [];
  private steadyMode: Behaviour = 'ok';
  private flapping: { p: number; failure: Behaviour; random: () => number } | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly waiters: { want: (r: FakeProvider) => boolean; done: () => void }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private ids = 0;
  /** Requests received and not yet answered (or dropped), now and at most so far. */
  inFlight = 0;
  maxInFlight = 0;

  private readonly server: ReturnType<typeof createServer>;
  private readonly path: string;
  /** `http://127.0.0.1:<port>/hook`: the URL to configure. */
  url = '';
  port = 0;

  private constructor(options: FakeProviderOptions) {
    this.secret = options.secret;
    this.rejectInvalid = options.rejectInvalid ?? true;
    this.path = options.path ?? '/hook';
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const pathname = (req.url ?? '/').split('?')[0]!;
        if (pathname === '/_control') return this.control(req.method ?? 'GET', raw, res);
        if (pathname !== this.path) {
          res.writeHead(404).end();
          return;
        }
        this.receive(req.method ?? 'POST', pathname, req.headers, raw, res);
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(options: FakeProviderOptions = {}): Promise<FakeProvider> {
    const fake = new FakeProvider(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    fake.url = `http://127.0.0.1:${fake.port}${fake.path}`;
    return fake;
  }

  /** The next requests get these behaviours, one each, before any mode applies. */
  next(...list: Behaviour[]): this {
    this.queue.push(...list);
    return this;
  }

  /** Every request (after the queue) gets this behaviour; turns flapping off. */
  steady(behaviour: Behaviour): this {
    this.steadyMode = behaviour;
    this.flapping = null;
    return this;
  }

  /** After the queue, fail each request with probability p (seeded RNG), else the steady mode. */
  flap(options: FlapOptions | null): this {
    this.flapping = options
      ? {
          p: options.p,
          failure: options.failure ?? { status: 503 },
          random: mulberry32(options.seed),
        }
      : null;
    return this;
  }

  /** Forgets requests and behaviours: back to steady `ok`. */
  clear(): this {
    this.requests.length = 0;
    this.queue.length = 0;
    this.steadyMode = 'ok';
    this.flapping = null;
    this.maxInFlight = this.inFlight;
    this.ids = 0;
    return this;
  }

  /** Requests that carried this webhook-id, in arrival order. */
  requestsFor(webhookId: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.webhookId === webhookId);
  }

  /** Requests answered 2xx. */
  accepted(): ReceivedRequest[] {
    return this.requests.filter((r) => typeof r.answer === 'number' && r.answer < 300);
  }

  /** How many 2xx answers each webhook-id got. */
  acceptedCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.accepted()) {
      if (r.webhookId !== null) counts.set(r.webhookId, (counts.get(r.webhookId) ?? 0) + 1);
    }
    return counts;
  }

  stats(): FakeProviderStats {
    const counts = this.acceptedCounts();
    let duplicates = 0;
    for (const n of counts.values()) duplicates += n - 1;
    const valid = this.requests.filter((r) => r.signatureValid).length;
    return {
      requests: this.requests.length,
      validSignatures: valid,
      invalidSignatures: this.requests.length - valid,
      accepted: this.accepted().length,
      uniqueAccepted: counts.size,
      duplicates,
    };
  }

  /** Resolves once `want` holds (checked after every request), without polling. */
  waitFor(want: (fake: FakeProvider) => boolean, timeoutMs = 10_000): Promise<void> {
    if (want(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.done === done);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`fake provider: condition not met in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ want, done });
    });
  }

  /** Stops listening and drops every open connection (hanging requests included). */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  private receive(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    rawBody: string,
    res: ServerResponse,
  ): void {
    let body: unknown = null;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = null;
    }
    const signatureValid =
      this.secret !== undefined && isValid({ headers, body: rawBody, secret: this.secret });
    const id = headers['webhook-id'];
    const request: ReceivedRequest = {
      seq: this.requests.length + 1,
      at: Date.now(),
      method,
      path,
      headers,
      rawBody,
      body,
      webhookId: typeof id === 'string' ? id : null,
      signatureValid,
      answer: 'hang',
    };
    this.requests.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => this.inFlight--);
    if (!signatureValid && this.rejectInvalid) {
      this.answer(request, res, { status: 401 });
    } else {
      this.answer(request, res, this.decide());
    }
  }

  private decide(): Behaviour {
    const queued = this.queue.shift();
    if (queued !== undefined) return queued;
    if (this.flapping && this.flapping.random() < this.flapping.p) return this.flapping.failure;
    return this.steadyMode;
  }

  private answer(request: ReceivedRequest, res: ServerResponse, b: Behaviour): void {
    const finish = (answer: Answer) => {
      request.answer = answer;
      this.notify();
    };
    if (b === 'hang' || (typeof b === 'object' && 'hang' in b)) return finish('hang');
    if (b === 'reset' || (typeof b === 'object' && 'reset' in b)) {
      res.socket?.destroy();
      return finish('reset');
    }
    if (typeof b === 'object' && 'slow' in b) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.answer(request, res, 'ok');
      }, b.slow);
      this.timers.add(timer);
      return;
    }
    if (b === 'ok' || 'ok' in b) {
      const status = b === 'ok' ? 200 : (b.status ?? 200);
      const id = b === 'ok' || b.id === undefined ? `fake-${++this.ids}` : b.id;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(id === null ? { received: true } : { id }));
      return finish(status);
    }
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    if (b.retryAfter !== undefined) headers['retry-after'] = b.retryAfter;
    res.writeHead(b.status, headers).end(`fake provider answers ${b.status}`);
    finish(b.status);
  }

  private notify(): void {
    for (const w of [...this.waiters]) {
      if (w.want(this)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.done();
      }
    }
  }

  private control(method: string, raw: string, res: ServerResponse): void {
    try {
      if (method === 'POST') {
        const c = (raw ? JSON.parse(raw) : {}) as {
          clear?: boolean;
          next?: Behaviour[];
          steady?: Behaviour;
          flap?: FlapOptions | null;
          secret?: string;
        };
        if (c.clear) this.clear();
        if (c.secret !== undefined) this.secret = c.secret;
        if (c.next) this.next(...c.next);
        if (c.steady !== undefined) this.steady(c.steady);
        if (c.flap !== undefined) this.flap(c.flap);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.stats()));
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
    }
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same flapping. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
