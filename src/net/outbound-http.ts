import { promises as dns } from 'node:dns';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { createAddressPolicy, type AddressPolicy } from './address-policy.js';
import { parseIpLiteral } from './ip-literal.js';
import { OutboundError } from './outbound-error.js';

/** Resolves a host name to every address it has (like `dns.lookup(name, { all: true })`). */
export type LookupAll = (hostname: string) => Promise<ReadonlyArray<{ readonly address: string }>>;

export interface OutboundTimeouts {
  /** TCP (and TLS) handshake, per address tried. */
  readonly connectMs: number;
  /** From the request being sent until the response headers are complete. */
  readonly headersMs: number;
  /** Longest silence between two chunks of the response body. */
  readonly bodyMs: number;
  /** Whole call, DNS to last byte: bounds a receiver that trickles bytes forever. */
  readonly totalMs: number;
}

export interface OutboundHttpOptions {
  /**
   * CIDRs an operator explicitly trusts; empty by default, so loopback, private, link-local
   * (cloud metadata), CGNAT, multicast and reserved addresses are all refused. Allow-listed
   * addresses may be reached on any port (see `allowPorts`).
   */
  readonly allowCidrs?: readonly string[];
  /** Ports allowed for addresses that are not allow-listed. Default `[80, 443]`. */
  readonly allowPorts?: readonly number[];
  readonly timeouts?: Partial<OutboundTimeouts>;
  /** The response body is read up to this many bytes, then the connection is dropped. */
  readonly maxResponseBytes?: number;
  /** Larger request bodies are refused (`too-large`) before any connection is made. */
  readonly maxRequestBytes?: number;
  readonly userAgent?: string;
  /** DNS resolution; injectable so tests can simulate rebinding. Default: `dns.lookup`. */
  readonly lookup?: LookupAll;
}

export type OutboundMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface OutboundRequest {
  /** Default: `POST` when there is a body, else `GET`. */
  readonly method?: OutboundMethod;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  readonly signal?: AbortSignal;
}

export interface OutboundResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** At most `maxResponseBytes` of the body, decoded as UTF-8. Untrusted: never echo it. */
  readonly body: string;
  /** True when the body was longer than `maxResponseBytes` and was cut. */
  readonly truncated: boolean;
}

/**
 * HTTP client for URLs that users and operators configure (webhooks, status callbacks).
 * Guarantees, whatever the URL, its DNS answers or its redirects:
 * - every address is checked at connect time, right before the socket is opened, against
 *   the address policy — so a name that resolves (or rebinds) to an internal address, or an
 *   IPv4 address in an odd spelling, is refused before a single packet goes to it;
 * - redirects are never followed: a 3xx comes back as a response;
 * - every phase is bounded in time, and the response body in size.
 * Failures reject with {@link OutboundError}.
 */
export interface OutboundHttp {
  request(url: string | URL, init?: OutboundRequest): Promise<OutboundResponse>;
  /** Waits for in-flight requests, then closes pooled connections. */
  close(): Promise<void>;
}

export const DEFAULT_OUTBOUND_TIMEOUTS: OutboundTimeouts = {
  connectMs: 5_000,
  headersMs: 10_000,
  bodyMs: 10_000,
  totalMs: 30_000,
};

const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/** Headers the transport owns; letting a caller set them would allow request smuggling. */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-connection',
]);

export function createOutboundHttp(options: OutboundHttpOptions = {}): OutboundHttp {
  const timeouts = { ...DEFAULT_OUTBOUND_TIMEOUTS, ...options.timeouts };
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const userAgent = options.userAgent ?? 'Herald-Webhooks/1';
  const policy = createAddressPolicy({
    ...(options.allowCidrs && { allowCidrs: options.allowCidrs }),
    ...(options.allowPorts && { allowPorts: options.allowPorts }),
  });
  const lookup = options.lookup ?? defaultLookup;

  const agent = new Agent({
    connect: guardedConnector(
      buildConnector({ timeout: timeouts.connectMs }),
      policy,
      withTimeout(lookup, timeouts.connectMs),
    ),
    maxRedirections: 0,
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
  });

  return {
    async request(url, init = {}) {
      const target = parseTarget(url);
      const headers = requestHeaders(init.headers, userAgent);
      const body = init.body;
      const size = typeof body === 'string' ? Buffer.byteLength(body) : (body?.byteLength ?? 0);
      if (size > maxRequestBytes) {
        throw new OutboundError(
          'too-large',
          `Request body is ${size} bytes, over the ${maxRequestBytes}-byte limit`,
        );
      }

      const deadline = new AbortController();
      const deadlineError = new OutboundError(
        'timeout',
        `No complete response from ${target.origin} within ${timeouts.totalMs} ms`,
      );
      const timer = setTimeout(() => deadline.abort(deadlineError), timeouts.totalMs);
      const onCallerAbort = (): void => deadline.abort(init.signal?.reason);
      if (init.signal?.aborted) onCallerAbort();
      init.signal?.addEventListener('abort', onCallerAbort, { once: true });

      try {
        const pending = agent.request({
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method: init.method ?? (body === undefined ? 'GET' : 'POST'),
          headers,
          body: body ?? null,
          signal: deadline.signal,
          maxRedirections: 0,
          headersTimeout: timeouts.headersMs,
          bodyTimeout: timeouts.bodyMs,
        });
        const response = await untilAborted(pending, deadline.signal);
        const { text, truncated } = await readCapped(response.body, maxResponseBytes);
        return {
          status: response.statusCode,
          headers: flattenHeaders(response.headers),
          body: text,
          truncated,
        };
      } catch (err) {
        if (init.signal?.aborted && err === init.signal.reason) throw err;
        throw toOutboundError(err, target.origin);
      } finally {
        clearTimeout(timer);
        init.signal?.removeEventListener('abort', onCallerAbort);
      }
    },

    close: () => agent.close(),
  };
}

/**
 * undici only acts on an abort once the request has a connection, so a deadline that fires
 * during DNS or connect would wait for them: give up waiting at once instead (the request
 * itself is cancelled by undici as soon as it connects, and a late response is discarded).
 */
function untilAborted(
  pending: Promise<Dispatcher.ResponseData>,
  signal: AbortSignal,
): Promise<Dispatcher.ResponseData> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      pending.then(
        (late) => late.body.destroy(),
        () => undefined,
      );
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (response) => {
        signal.removeEventListener('abort', onAbort);
        resolve(response);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function parseTarget(url: string | URL): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch (cause) {
    throw new OutboundError('bad-url', 'Not a valid URL', { cause });
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new OutboundError(
      'bad-url',
      `Only http: and https: URLs are allowed, not ${target.protocol}`,
    );
  }
  // Credentials in URLs end up in logs; receivers that need auth get a header instead.
  if (target.username !== '' || target.password !== '') {
    throw new OutboundError('bad-url', 'URLs with user:password@ are not allowed');
  }
  return target;
}

function requestHeaders(
  given: Readonly<Record<string, string>> | undefined,
  userAgent: string,
): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': userAgent };
  for (const [name, value] of Object.entries(given ?? {})) {
    const lower = name.toLowerCase();
    if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith('proxy-')) {
      throw new OutboundError('bad-request', `Header "${name}" is set by the HTTP client itself`);
    }
    if (/[\r\n\0]/.test(value)) {
      throw new OutboundError('bad-request', `Header "${name}" contains a line break or NUL`);
    }
    headers[lower] = value;
  }
  return headers;
}

type Connector = ReturnType<typeof buildConnector>;
type ConnectOptions = Parameters<Connector>[0];
type ConnectCallback = Parameters<Connector>[1];

/**
 * Wraps undici's connector: resolves the host itself, checks every address, and connects to
 * the checked address (the original name still drives TLS SNI and certificate checks). The
 * socket is opened to exactly the address that was checked, so there is no window between
 * check and use for DNS rebinding, and redirects or retries go through the same gate.
 */
function guardedConnector(base: Connector, policy: AddressPolicy, lookup: LookupAll): Connector {
  return (options, callback) => {
    const port = options.port ? Number(options.port) : options.protocol === 'https:' ? 443 : 80;
    resolveChecked(options.hostname, port, policy, lookup).then(
      (addresses) => connectInTurn(base, options, addresses, callback),
      (err: unknown) => callback(asError(err), null),
    );
  };
}

async function resolveChecked(
  hostname: string,
  port: number,
  policy: AddressPolicy,
  lookup: LookupAll,
): Promise<string[]> {
  const literal = parseIpLiteral(hostname);
  let addresses: string[];
  if (literal) {
    addresses = [literal.address];
  } else {
    try {
      addresses = (await lookup(hostname)).map((a) => parseIpLiteral(a.address)?.address ?? '');
    } catch (cause) {
      if (cause instanceof OutboundError) throw cause;
      throw new OutboundError('connect', `Could not resolve ${hostname}`, { cause });
    }
    if (addresses.length === 0) throw new OutboundError('connect', `${hostname} has no address`);
  }
  // All, not any: a name that answers with one public and one internal address is either
  // misconfigured or an attack, and a fallback to the next address must not land inside.
  for (const address of addresses) {
    const verdict = policy.check(address, port);
    if (!verdict.allowed) {
      const what = verdict.reason === 'port' ? `port ${port}` : `a ${verdict.reason} address`;
      throw new OutboundError(
        'refused-address',
        `Refused to connect to ${hostPort(hostname, port)}: ${address} is ${what} (outside the allow-list)`,
      );
    }
  }
  return addresses;
}

function hostPort(hostname: string, port: number): string {
  return hostname.includes(':') ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** Errors after which trying the host's next address makes sense (fast, local failures). */
const NEXT_ADDRESS_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'EAFNOSUPPORT',
]);

function connectInTurn(
  base: Connector,
  options: ConnectOptions,
  addresses: readonly string[],
  callback: ConnectCallback,
  index = 0,
): void {
  const onConnect: ConnectCallback = (err, socket) => {
    if (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (index + 1 < addresses.length && NEXT_ADDRESS_CODES.has(code)) {
        connectInTurn(base, options, addresses, callback, index + 1);
      } else {
        callback(err, null);
      }
      return;
    }
    callback(null, socket);
  };
  try {
    base({ ...options, hostname: addresses[index] ?? '' }, onConnect);
  } catch (err) {
    callback(asError(err), null);
  }
}

async function readCapped(
  body: AsyncIterable<Uint8Array> & { destroy(): unknown },
  max: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body) {
    const room = max - size;
    if (chunk.byteLength > room) {
      chunks.push(chunk.subarray(0, room));
      size = max;
      truncated = true;
      break; // leaving the loop destroys the stream and its connection: no more bytes read
    }
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  return { text: Buffer.concat(chunks, size).toString('utf8'), truncated };
}

function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined)
      flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function toOutboundError(err: unknown, origin: string): OutboundError {
  if (err instanceof OutboundError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const text = typeof code === 'string' ? code : '';
  if (TIMEOUT_CODES.has(text)) {
    return new OutboundError('timeout', `Timed out talking to ${origin} (${text})`, { cause: err });
  }
  if (RESET_CODES.has(text) || text.startsWith('HPE_')) {
    return new OutboundError('reset', `Connection to ${origin} broke (${text})`, { cause: err });
  }
  if (text === 'UND_ERR_INVALID_ARG') {
    return new OutboundError(
      'bad-request',
      `Request rejected by the HTTP client: ${asError(err).message}`,
      {
        cause: err,
      },
    );
  }
  return new OutboundError(
    'connect',
    `Could not reach ${origin} (${text || asError(err).message})`,
    {
      cause: err,
    },
  );
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** DNS gets the connect budget too: a resolver that never answers must not hold a request. */
function withTimeout(lookup: LookupAll, ms: number): LookupAll {
  return (hostname) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new OutboundError('timeout', `DNS lookup of ${hostname} took over ${ms} ms`)),
        ms,
      );
      lookup(hostname).then(
        (addresses) => {
          clearTimeout(timer);
          resolve(addresses);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
}

const defaultLookup: LookupAll = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });
