import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify, WebhookVerificationError } from '../../src/webhooks/standard-webhooks.js';

/** One request the receiver got, checked the way a source's receiver would check it. */
export interface ReceivedCallback {
  /** `webhook-id`. */
  readonly id: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The parsed body; null when it was not JSON. */
  readonly event: {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  } | null;
  /** Null when the Standard Webhooks signature verified; otherwise why it did not. */
  readonly verifyError: string | null;
  /** The status this receiver answered. */
  readonly answered: number;
}

export interface Answer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Test support: a source's callback receiver on 127.0.0.1. It verifies every request's
 * signature with `verify` (against `secret`, once the test has it), records everything and
 * answers as `respond` says (default 204).
 */
export class CallbackReceiver {
  readonly received: ReceivedCallback[] = [];
  /** The signing secret to verify with (the PUT …/callback response gives it). */
  secret: string | null = null;
  respond: (request: ReceivedCallback, index: number) => Answer = () => ({ status: 204 });

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(path = '/herald/events'): Promise<CallbackReceiver> {
    let receiver: CallbackReceiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const r = receiver!;
        let verifyError: string | null = null;
        try {
          if (r.secret === null) throw new Error('the test has no secret yet');
          verify({ headers: req.headers, body: rawBody, secret: r.secret });
        } catch (err) {
          verifyError =
            err instanceof WebhookVerificationError ? err.reason : (err as Error).message;
        }
        let event: ReceivedCallback['event'] = null;
        try {
          event = JSON.parse(rawBody) as ReceivedCallback['event'];
        } catch {
          event = null;
        }
        const partial = {
          id: String(req.headers['webhook-id'] ?? ''),
          headers: req.headers,
          rawBody,
          event,
          verifyError,
        };
        const answer = r.respond({ ...partial, answered: 0 }, r.received.length);
        r.received.push({ ...partial, answered: answer.status });
        res.writeHead(answer.status, answer.headers ?? {});
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new CallbackReceiver(server, `http://127.0.0.1:${port}${path}`);
    return receiver;
  }

  /** Received events of a type (every attempt, duplicates included). */
  ofType(type: string): ReceivedCallback[] {
    return this.received.filter((r) => r.event?.type === type);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
