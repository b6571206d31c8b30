import { createOutboundHttp, type OutboundHttp } from '../../net/outbound-http.js';
import { mapLimit } from '../../runtime/map-limit.js';
import { sign } from '../../webhooks/standard-webhooks.js';
import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../channel-provider.js';
import { outcomeOfError, outcomeOfResponse } from './webhook-outcome.js';
import { webhookPayload } from './webhook-payload.js';

export interface WebhookProviderOptions {
  /** Shown on deliveries and metrics: the provider configuration's name. */
  readonly name: string;
  /** Where every message is POSTed (http: or https:). */
  readonly url: string;
  /** `whsec_…`: the Standard Webhooks signing secret shared with the receiver. */
  readonly signingSecret: string;
  /** Requests in flight at once for one batch (default 8). */
  readonly parallelism?: number;
  /**
   * The HTTP client (SSRF-guarded). Default: `createOutboundHttp({ allowCidrs, timeouts })`
   * with every phase bounded by `timeoutMs`.
   */
  readonly http?: OutboundHttp;
  readonly allowCidrs?: readonly string[];
  /** Longest a call may take, DNS to last byte (default 10 s). */
  readonly timeoutMs?: number;
  /** Epoch milliseconds; injectable for tests. */
  readonly now?: () => number;
}

/**
 * The `webhook` channel: POSTs each message as JSON (see `WebhookMessagePayload`) to one URL,
 * signed the Standard Webhooks way with `webhook-id` = the delivery id, which stays the same
 * on every retry so the receiver can drop duplicates. Calls go through the SSRF-guarded
 * outbound client: internal addresses are refused unless allow-listed, redirects are not
 * followed, every call is bounded in time. The receiver's answer decides the outcome (see
 * `outcomeOfResponse`).
 */
export class WebhookProvider implements ChannelProvider {
  readonly name: string;
  private readonly url: URL;
  private readonly http: OutboundHttp;
  private readonly parallelism: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: WebhookProviderOptions) {
    this.name = options.name;
    this.url = new URL(options.url);
    this.parallelism = options.parallelism ?? 8;
    if (!(Number.isInteger(this.parallelism) && this.parallelism >= 1)) {
      throw new RangeError('parallelism must be an integer ≥ 1');
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.http =
      options.http ??
      createOutboundHttp({
        ...(options.allowCidrs ? { allowCidrs: options.allowCidrs } : {}),
        timeouts: {
          connectMs: Math.min(5_000, timeoutMs),
          headersMs: timeoutMs,
          bodyMs: timeoutMs,
          totalMs: timeoutMs,
        },
        userAgent: 'Herald-Webhooks/1',
      });
    this.now = options.now ?? Date.now;
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    return mapLimit(batch, this.parallelism, (m) => this.sendOne(m));
  }

  /** Waits for calls in flight, then closes pooled connections. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.http.close();
  }

  private async sendOne(m: OutboundMessage): Promise<SendOutcome> {
    if (this.closed) {
      return { ok: false, error: new DeliveryError(`${this.name} is shut down`, 'transient') };
    }
    const at = this.now();
    const body = JSON.stringify(webhookPayload(m, new Date(at)));
    let headers;
    try {
      headers = sign({
        id: m.deliveryId,
        timestamp: Math.floor(at / 1000),
        body,
        secret: this.options.signingSecret,
      });
    } catch (err) {
      return {
        ok: false,
        error: new DeliveryError(`cannot sign the webhook: ${(err as Error).message}`, 'permanent'),
      };
    }
    try {
      const res = await this.http.request(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      return outcomeOfResponse(res, this.url.origin, this.now());
    } catch (err) {
      return outcomeOfError(err);
    }
  }
}
