import type {
  ChannelProvider,
  OutboundMessage,
  SendOutcome,
} from '../channels/channel-provider.js';
import { EmailProvider } from '../channels/email/email-provider.js';
import { WebhookProvider } from '../channels/webhook/webhook-provider.js';
import type { ResilientMember } from '../channels/resilience/resilient-provider.js';
import { effectiveLimits } from './provider-kinds.js';
import type { ProviderConfig } from './providers-store.js';

export interface ProviderFactoryOptions {
  /** HERALD_OUTBOUND_ALLOW_CIDRS: internal networks webhooks may reach. */
  readonly allowCidrs: readonly string[];
  /** HERALD_PUBLIC_URL, for the List-Unsubscribe of emails. */
  readonly publicUrl: string;
}

/** Turns a stored configuration into the provider itself (unguarded), named after it. */
export type ProviderFactory = (config: ProviderConfig) => ChannelProvider;

export function providerFactory(options: ProviderFactoryOptions): ProviderFactory {
  return (config) => {
    const limits = effectiveLimits(config.kind, config.settings, config.limits);
    switch (config.kind) {
      case 'webhook':
        return new WebhookProvider({
          name: config.name,
          url: config.settings.url,
          signingSecret: config.secrets.signingSecret ?? '',
          allowCidrs: options.allowCidrs,
          ...(limits.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {}),
          // As many requests at once as the guard lets in: one call is one round of requests.
          parallelism: limits.concurrency,
        });
      case 'smtp': {
        const { settings, secrets } = config;
        const email = new EmailProvider({
          url: smtpUrl(settings.url, settings.user, secrets.password),
          from: settings.from,
          publicUrl: options.publicUrl,
          pool: { maxConnections: settings.maxConnections ?? 5, maxMessages: 100 },
        });
        const replyTo = settings.replyTo;
        return new NamedProvider(
          config.name,
          email,
          replyTo === undefined ? undefined : (m) => withDefaultReplyTo(m, replyTo),
        );
      }
    }
  };
}

/** The guards and failover place of a configuration (its limits over the kind's defaults). */
export function resilientMember(
  config: ProviderConfig,
  provider: ChannelProvider,
): ResilientMember {
  const limits = effectiveLimits(config.kind, config.settings, config.limits);
  return {
    provider,
    priority: config.priority,
    weight: config.weight,
    ...(limits.ratePerSecond !== undefined ? { rate: limits.ratePerSecond } : {}),
    ...(limits.burst !== undefined ? { burst: limits.burst } : {}),
    concurrency: limits.concurrency,
    ...(limits.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {}),
    breaker: limits.breaker,
  };
}

/**
 * The relay URL with the credentials put in (nodemailer reads AUTH from the URL); built here
 * and handed straight to the transport, never stored or logged. Percent-encoded so any
 * character of a password survives.
 */
export function smtpUrl(base: string, user?: string, password?: string): string {
  if (user === undefined) return base;
  const url = new URL(base);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password ?? '');
  return url.href;
}

/** A source's or category's Reply-To wins over the provider's. */
function withDefaultReplyTo(m: OutboundMessage, replyTo: string): OutboundMessage {
  if (m.sender?.replyTo !== undefined) return m;
  return { ...m, sender: { ...m.sender, replyTo } };
}

/** Shows a provider under the configuration's name (EmailProvider calls itself `smtp`). */
class NamedProvider implements ChannelProvider {
  constructor(
    readonly name: string,
    private readonly inner: ChannelProvider,
    private readonly adjust?: (m: OutboundMessage) => OutboundMessage,
  ) {}

  send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    const adjust = this.adjust;
    return this.inner.send(adjust ? batch.map((m) => adjust(m)) : batch);
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
