import type { Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** What the test SMTP server answers; `accept` unless a test says otherwise. */
export type Reply =
  | { readonly kind: 'accept' }
  | {
      readonly kind: 'reject';
      readonly at: 'rcpt' | 'data';
      readonly code: number;
      /** Only this recipient (at RCPT TO); every one when unset. */
      readonly only?: string;
      /** Refuse this many times, then accept again; for ever when unset. */
      readonly times?: number;
    };

export interface Received {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly raw: string;
  /** Whether the session was encrypted (STARTTLS) when the message came. */
  readonly secure: boolean;
  /** The user that logged in, if any. */
  readonly user: string | null;
}

export interface SinkOptions {
  /** Offer STARTTLS (smtp-server's built-in self-signed certificate). */
  readonly starttls?: boolean;
  /** TLS from the first byte, as on port 465 (the same certificate). */
  readonly implicitTls?: boolean;
  /** Offer AUTH (PLAIN, LOGIN) over plain text and require it, with these credentials. */
  readonly auth?: { readonly user: string; readonly pass: string };
}

/** A real SMTP server on loopback that records every RCPT TO and every accepted message. */
export interface SmtpSink {
  readonly port: number;
  readonly rcpts: string[];
  readonly messages: Received[];
  reply: Reply;
  /** SMTP sessions opened so far, and open now. */
  readonly connections: { opened: number; open: number };
  /** Drops every open session at once, as a relay closing idle connections does. */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const refusal = (code: number) =>
    Object.assign(new Error(`test says ${code}`), { responseCode: code });
  let refused = 0;
  let lastReply: Reply | null = null;
  /** Whether the current reply refuses at `at` (for `address`), counting the refusals. */
  const refuses = (at: 'rcpt' | 'data', address?: string): number | null => {
    const r = sink.reply;
    if (r !== lastReply) {
      lastReply = r;
      refused = 0;
    }
    if (r.kind !== 'reject' || r.at !== at) return null;
    if (address !== undefined && (r.only ?? address) !== address) return null;
    if (r.times !== undefined && refused >= r.times) return null;
    refused++;
    return r.code;
  };
  const sink: Omit<SmtpSink, 'port'> & { port: number } = {
    port: 0,
    rcpts: [],
    messages: [],
    reply: { kind: 'accept' },
    connections: { opened: 0, open: 0 },
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const sockets = new Set<Socket>();
  const server = new SMTPServer({
    secure: options.implicitTls ?? false,
    authOptional: !options.auth,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands: [
      ...(options.starttls ? [] : ['STARTTLS']),
      ...(options.auth ? [] : ['AUTH']),
    ],
    logger: false,
    onConnect(_session, callback) {
      sink.connections.opened++;
      sink.connections.open++;
      callback();
    },
    onClose() {
      sink.connections.open--;
    },
    onAuth(auth, _session, callback) {
      if (
        options.auth &&
        auth.username === options.auth.user &&
        auth.password === options.auth.pass
      )
        return callback(null, { user: auth.username });
      callback(Object.assign(new Error('test says no'), { responseCode: 535 }));
    },
    closeTimeout: 200,
    onRcptTo(address, _session, callback) {
      sink.rcpts.push(address.address);
      const code = refuses('rcpt', address.address);
      if (code !== null) return callback(refusal(code));
      callback(null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const code = refuses('data');
        if (code !== null) return callback(refusal(code));
        sink.messages.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((a) => a.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : null,
        });
        callback(null);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // smtp-server reports a client's broken connection (ECONNRESET when a sender is killed
  // mid-session) as a server 'error': for a sink that is the client's business, not a crash.
  server.on('error', (err: Error & { code?: string }) => {
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') throw err;
  });
  server.server.on(options.implicitTls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  sink.port = (server.server.address() as { port: number }).port;
  return sink;
}
