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
    };

export interface Received {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly raw: string;
}

/** A real SMTP server on loopback that records every RCPT TO and every accepted message. */
export interface SmtpSink {
  readonly port: number;
  readonly rcpts: string[];
  readonly messages: Received[];
  reply: Reply;
  close(): Promise<void>;
}

export async function startSink(): Promise<SmtpSink> {
  const refusal = (code: number) =>
    Object.assign(new Error(`test says ${code}`), { responseCode: code });
  const sink: Omit<SmtpSink, 'port'> & { port: number } = {
    port: 0,
    rcpts: [],
    messages: [],
    reply: { kind: 'accept' },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    closeTimeout: 200,
    onRcptTo(address, _session, callback) {
      sink.rcpts.push(address.address);
      const r = sink.reply;
      if (
        r.kind === 'reject' &&
        r.at === 'rcpt' &&
        (r.only ?? address.address) === address.address
      ) {
        return callback(refusal(r.code));
      }
      callback(null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const r = sink.reply;
        if (r.kind === 'reject' && r.at === 'data') return callback(refusal(r.code));
        sink.messages.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((a) => a.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback(null);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  sink.port = (server.server.address() as { port: number }).port;
  return sink;
}
