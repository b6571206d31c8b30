import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSecret, sign, verify } from '../webhooks/standard-webhooks.js';
import { OutboundError, type OutboundErrorKind } from './outbound-error.js';
import { createOutboundHttp, type LookupAll, type OutboundHttpOptions } from './outbound-http.js';

/*
 * Network guard. Every socket undici opens goes through net.connect or tls.connect: record
 * each attempt, and throw for any host outside loopback, so that even a broken policy can
 * never send a packet to 10.x, 169.254.x or the internet from this test. Tests assert on
 * `attempts` to prove that a refused address was refused before any connection was tried.
 */
const attempts: string[] = [];
const isLoopback = (host: string): boolean =>
  host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');

function guard<F extends (...args: never[]) => unknown>(original: F): F {
  return function guarded(this: unknown, ...args: Parameters<F>) {
    const first: unknown = args[0];
    const host =
      typeof first === 'object' && first !== null && 'host' in first ? String(first.host) : '?';
    attempts.push(host);
    if (!isLoopback(host)) throw new Error(`TEST GUARD: refused to open a socket to ${host}`);
    return Reflect.apply(original, this, args) as ReturnType<F>;
  } as F;
}
mock.method(net, 'connect', guard(net.connect));
mock.method(tls, 'connect', guard(tls.connect));

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

interface TestServer {
  readonly port: number;
  readonly requests: Recorded[];
  connections: number;
  url(path?: string): string;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: TestServer[] = [];
const clients: Array<{ close(): Promise<void> }> = [];

async function startServer(handler: Handler, host = '127.0.0.1'): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  const test: TestServer = {
    port: address.port,
    requests,
    connections: 0,
    url: (path = '/') => `http://${host}:${address.port}${path}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => {
    test.connections += 1;
  });
  servers.push(test);
  return test;
}

function client(options: OutboundHttpOptions = {}) {
  const http = createOutboundHttp(options);
  clients.push(http);
  return http;
}

/** A resolver that answers from a script and counts its calls (DNS never leaves the test). */
function scriptedLookup(answers: ReadonlyArray<readonly string[]>): LookupAll & { calls: number } {
  const lookup = async () => {
    const answer = answers[Math.min(lookup.calls, answers.length - 1)] ?? [];
    lookup.calls += 1;
    return answer.map((address) => ({ address }));
  };
  lookup.calls = 0;
  return lookup;
}

async function rejectsWith(
  promise: Promise<unknown>,
  kind: OutboundErrorKind,
  message?: RegExp,
): Promise<OutboundError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof OutboundError,
    `expected OutboundError(${kind}), got ${String(caught)}`,
  );
  assert.equal(caught.kind, kind, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

beforeEach(() => {
  attempts.length = 0;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('outbound HTTP: SSRF guard', () => {
  it('refuses every spelling of loopback, without opening a socket, even on an allowed port', async () => {
    const server = await startServer((_req, res) => res.end('should never be reached'));
    const http = client({ allowPorts: [server.port] });
    const p = server.port;
    const urls = [
      `http://127.0.0.1:${p}/`,
      `http://127.1:${p}/`,
      `http://0x7f000001:${p}/`,
      `http://2130706433:${p}/`,
      `http://017700000001:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://0x7f.1:${p}/`,
      `http://127.0.0.1.:${p}/`,
      `http://127.9.9.9:${p}/`,
      `http://[::1]:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::ffff:7f00:1]:${p}/`,
      `http://[0:0:0:0:0:ffff:7f00:1]:${p}/`,
      `http://[::127.0.0.1]:${p}/`,
      `http://0.0.0.0:${p}/`, // reaches local services on Linux
      `http://0:${p}/`,
      `http://[::]:${p}/`,
      `http://localhost:${p}/`, // the system resolver's answer: 127.0.0.1 and/or ::1
      `https://127.0.0.1:${p}/`,
    ];
    for (const url of urls) {
      await rejectsWith(http.request(url, { body: 'x' }), 'refused-address');
    }
    assert.deepEqual(attempts, []);
    assert.equal(server.connections, 0);
  });

  it('refuses private, link-local/metadata, CGNAT, multicast and mapped addresses before connecting', async () => {
    const lookup = scriptedLookup([['127.0.0.1']]);
    const http = client({ lookup });
    const urls = [
      'http://169.254.169.254/latest/meta-data/',
      'http://0xa9fea9fe/',
      'http://2852039166/',
      'http://[::ffff:169.254.169.254]/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://[::1]/',
      'http://10.0.0.1/',
      'https://10.0.0.1/',
      'http://172.16.0.1/',
      'http://192.168.1.1/',
      'http://100.64.0.1/',
      'http://[fc00::1]/',
      'http://[fe80::1]/',
      'http://224.0.0.1/',
      'http://255.255.255.255/',
      'http://[ff02::1]/',
    ];
    for (const url of urls) {
      const started = performance.now();
      const err = await rejectsWith(http.request(url), 'refused-address');
      assert.ok(performance.now() - started < 100, `${url} took too long: refused late?`);
      assert.equal(err.transient, false);
    }
    assert.deepEqual(attempts, []);
    assert.equal(lookup.calls, 0, 'IP literals are never sent to DNS');
  });

  it('refuses a name that resolves to an internal address, or to a mix of allowed and internal', async () => {
    const server = await startServer((_req, res) => res.end('no'));
    const metadata = scriptedLookup([['169.254.169.254']]);
    await rejectsWith(
      client({ lookup: metadata }).request('http://metadata.google.internal/computeMetadata/v1/'),
      'refused-address',
      /169\.254\.169\.254 is a link-local address/,
    );
    const mixed = scriptedLookup([['127.0.0.1', '10.0.0.1']]);
    await rejectsWith(
      client({ lookup: mixed, allowCidrs: ['127.0.0.1/32'] }).request(
        `http://app.example.test:${server.port}/`,
      ),
      'refused-address',
      /10\.0\.0\.1 is a private address/,
    );
    assert.deepEqual(attempts, []);
    assert.equal(server.connections, 0);
  });

  it('re-checks at every connect, so DNS rebinding to an internal address is refused', async () => {
    // 127.0.0.1 plays the public address (allow-listed); the second answer is the rebind.
    const server = await startServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok');
    });
    const lookup = scriptedLookup([['127.0.0.1'], ['169.254.169.254']]);
    const http = client({ lookup, allowCidrs: ['127.0.0.1/32'] });
    const url = `http://rebind.example.test:${server.port}/hook`;

    const first = await http.request(url, { body: '{}' });
    assert.equal(first.status, 200);
    await sleep(20); // let the closed keep-alive connection leave the pool
    await rejectsWith(http.request(url, { body: '{}' }), 'refused-address', /169\.254\.169\.254/);

    assert.equal(lookup.calls, 2);
    assert.deepEqual(attempts, ['127.0.0.1']);
    assert.equal(server.requests.length, 1);
  });

  it('returns a redirect to an internal address as a 3xx and never follows it', async () => {
    const server = await startServer((req, res) => {
      const location =
        req.url === '/to-loopback' ? '/second' : 'http://169.254.169.254/latest/meta-data/iam';
      res.writeHead(req.url === '/to-loopback' ? 307 : 302, { location });
      res.end();
    });
    const http = client({ allowCidrs: ['127.0.0.0/8'] });

    const toMetadata = await http.request(server.url('/start'), { body: 'x' });
    assert.equal(toMetadata.status, 302);
    assert.equal(toMetadata.headers.location, 'http://169.254.169.254/latest/meta-data/iam');

    const toLocal = await http.request(server.url('/to-loopback'), { body: 'x' });
    assert.equal(toLocal.status, 307);

    assert.deepEqual(
      server.requests.map((r) => r.url),
      ['/start', '/to-loopback'],
    );
    assert.ok(attempts.every(isLoopback));
  });

  it('refuses a public address on a port outside the allowed ones', async () => {
    const lookup = scriptedLookup([['93.184.215.14']]);
    await rejectsWith(
      client({ lookup }).request('http://public.example.test:25/'),
      'refused-address',
      /port 25/,
    );
    await rejectsWith(
      client({ lookup, allowPorts: [8443] }).request('https://public.example.test/'),
      'refused-address',
      /port 443/,
    );
    assert.deepEqual(attempts, []);
  });

  it('rejects non-http(s) URLs, credentials in URLs, and garbage', async () => {
    const http = client({ allowCidrs: ['127.0.0.0/8'] });
    for (const url of [
      'ftp://127.0.0.1/',
      'file:///etc/passwd',
      'gopher://127.0.0.1:70/',
      'data:text/plain,hi',
      'javascript:alert(1)',
      'http://user:pw@127.0.0.1/',
      'not a url',
      '//127.0.0.1/',
      'http://[::1/',
    ]) {
      const err = await rejectsWith(http.request(url), 'bad-url');
      assert.equal(err.transient, false);
    }
    assert.deepEqual(attempts, []);
  });
});

describe('outbound HTTP: allow-listed receivers', () => {
  it('delivers method, path, headers and body intact to an allow-listed address on any port', async () => {
    const secret = generateSecret();
    const server = await startServer((req, res, body) => {
      const ok = verify({ headers: req.headers, body, secret });
      res.writeHead(201, { 'content-type': 'application/json', 'x-verified-id': ok.id });
      res.end(JSON.stringify({ received: body.length }));
    });
    const http = client({ allowCidrs: ['127.0.0.0/8'] });
    const body = JSON.stringify({ type: 'delivery.sent', data: { text: 'Привет, 你好 ✓' } });
    const signed = sign({ id: 'msg_1', timestamp: new Date(), body, secret });

    const res = await http.request(server.url('/hooks/herald?x=1&y=%20'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Custom': 'a b  c', ...signed },
      body,
    });

    assert.equal(res.status, 201);
    assert.equal(res.truncated, false);
    assert.equal(res.headers['x-verified-id'], 'msg_1');
    assert.deepEqual(JSON.parse(res.body), { received: body.length });
    const [seen] = server.requests;
    assert.ok(seen);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/hooks/herald?x=1&y=%20');
    assert.equal(seen.body, body);
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers['x-custom'], 'a b  c');
    assert.equal(seen.headers['content-length'], String(Buffer.byteLength(body)));
    assert.equal(seen.headers['webhook-signature'], signed['webhook-signature']);
    assert.match(seen.headers['user-agent'] ?? '', /^Herald-Webhooks\//);
    assert.deepEqual(attempts, ['127.0.0.1']);
  });

  it('sends binary bodies and plain GETs', async () => {
    const server = await startServer((_req, res, body) => res.end(`got ${body.length}`));
    const http = client({ allowCidrs: ['127.0.0.0/8'] });
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    assert.equal((await http.request(server.url('/bin'), { body: bytes })).body, 'got 5');
    assert.equal((await http.request(server.url('/get'))).body, 'got 0');
    assert.deepEqual(
      server.requests.map((r) => r.method),
      ['POST', 'GET'],
    );
  });

  it("tries a name's next address when one refuses the connection", async () => {
    const server = await startServer((_req, res) => res.end('v4'));
    // The server listens on 127.0.0.1 only: ::1 is refused (or unavailable), then v4 works.
    const lookup = scriptedLookup([['::1', '127.0.0.1']]);
    const http = client({ lookup, allowCidrs: ['127.0.0.0/8', '::1/128'] });
    const res = await http.request(`http://dual.example.test:${server.port}/`);
    assert.equal(res.body, 'v4');
    assert.deepEqual(attempts, ['::1', '127.0.0.1']);
  });
});

describe('outbound HTTP: bounded in time and size', () => {
  it('cuts a server that never answers at the headers timeout', async () => {
    const server = await startServer(() => {
      /* never responds */
    });
    const http = client({ allowCidrs: ['127.0.0.0/8'], timeouts: { headersMs: 150 } });
    const started = performance.now();
    const err = await rejectsWith(http.request(server.url(), { body: 'x' }), 'timeout');
    assert.ok(performance.now() - started < 2_000);
    assert.equal(err.transient, true);
  });

  it('cuts a body that stalls at the body timeout', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    const http = client({ allowCidrs: ['127.0.0.0/8'], timeouts: { bodyMs: 150 } });
    const started = performance.now();
    await rejectsWith(http.request(server.url()), 'timeout');
    assert.ok(performance.now() - started < 2_000);
  });

  it('cuts a receiver that trickles bytes forever at the total deadline', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(timer));
    });
    const http = client({
      allowCidrs: ['127.0.0.0/8'],
      timeouts: { bodyMs: 1_000, totalMs: 250 },
      maxResponseBytes: 1_000_000,
    });
    const started = performance.now();
    await rejectsWith(http.request(server.url()), 'timeout', /within 250 ms/);
    assert.ok(performance.now() - started < 2_000);
  });

  it('bounds a resolver that never answers by the connect timeout, and by the total deadline', async () => {
    const silent: LookupAll = () => new Promise(() => undefined);
    const byConnect = client({ lookup: silent, timeouts: { connectMs: 100 } });
    let started = performance.now();
    await rejectsWith(byConnect.request('http://slow-dns.example.test/'), 'timeout', /DNS lookup/);
    assert.ok(performance.now() - started < 1_000);

    const byDeadline = client({ lookup: silent, timeouts: { connectMs: 300, totalMs: 100 } });
    started = performance.now();
    await rejectsWith(
      byDeadline.request('http://slow-dns.example.test/'),
      'timeout',
      /within 100 ms/,
    );
    assert.ok(performance.now() - started < 250);
    assert.deepEqual(attempts, []);
  });

  it('caps an oversized response body and drops the rest', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200);
      res.end('a'.repeat(1024 * 1024));
    });
    const http = client({ allowCidrs: ['127.0.0.0/8'] });
    const big = await http.request(server.url());
    assert.equal(big.status, 200);
    assert.equal(big.body.length, 64 * 1024);
    assert.equal(big.truncated, true);

    const small = client({ allowCidrs: ['127.0.0.0/8'], maxResponseBytes: 10 });
    assert.deepEqual(
      { ...(await small.request(server.url())), headers: {} },
      { status: 200, headers: {}, body: 'aaaaaaaaaa', truncated: true },
    );
  });

  it('refuses an oversized request body before connecting', async () => {
    const http = client({ allowCidrs: ['127.0.0.0/8'], maxRequestBytes: 1_000 });
    await rejectsWith(
      http.request('http://127.0.0.1:9/', { body: 'x'.repeat(1_001) }),
      'too-large',
    );
    assert.deepEqual(attempts, []);
  });

  it('refuses headers that belong to the transport or carry line breaks', async () => {
    const http = client({ allowCidrs: ['127.0.0.0/8'] });
    const cases: Array<Record<string, string>> = [
      { Host: 'internal.example' },
      { 'Transfer-Encoding': 'chunked' },
      { 'Content-Length': '1' },
      { 'Proxy-Authorization': 'x' },
      { 'X-Evil': 'a\r\nHost: internal' },
    ];
    for (const headers of cases) {
      await rejectsWith(http.request('http://127.0.0.1:9/', { headers, body: 'x' }), 'bad-request');
    }
    assert.deepEqual(attempts, []);
  });
});

describe('outbound HTTP: transport failures', () => {
  it('reports a refused connection as connect (transient)', async () => {
    const server = await startServer(() => undefined);
    const port = server.port;
    await server.close();
    servers.length = 0;
    const err = await rejectsWith(
      client({ allowCidrs: ['127.0.0.0/8'] }).request(`http://127.0.0.1:${port}/`),
      'connect',
    );
    assert.equal(err.transient, true);
  });

  it('reports a connection dropped mid-request as reset (transient)', async () => {
    const server = await startServer((req) => req.socket.destroy());
    const err = await rejectsWith(
      client({ allowCidrs: ['127.0.0.0/8'] }).request(server.url(), { body: 'x' }),
      'reset',
    );
    assert.equal(err.transient, true);
  });

  it('reports a name that does not resolve as connect', async () => {
    const failing: LookupAll = () =>
      Promise.reject(Object.assign(new Error('nope'), { code: 'ENOTFOUND' }));
    await rejectsWith(
      client({ lookup: failing }).request('http://nowhere.example.test/'),
      'connect',
    );
    await rejectsWith(
      client({ lookup: scriptedLookup([[]]) }).request('http://empty.example.test/'),
      'connect',
    );
    assert.deepEqual(attempts, []);
  });

  it("lets the caller's abort signal through unchanged", async () => {
    const server = await startServer(() => undefined);
    const http = client({ allowCidrs: ['127.0.0.0/8'] });
    const controller = new AbortController();
    const pending = http.request(server.url(), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutdown')), 50);
    await assert.rejects(pending, /shutdown/);
  });
});
