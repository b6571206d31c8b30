import { ConfigError, type Config } from '../config/config.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { InboxHub } from '../inbox/inbox-hub.js';
import { ProviderRegistry } from './provider-registry.js';
import { SandboxProvider } from './sandbox/sandbox-provider.js';
import { InAppProvider } from './in-app/in-app-provider.js';
import { EmailProvider } from './email/email-provider.js';
import { parseMailbox } from './email/email-headers.js';
import { ConfiguredProviders } from '../providers/configured-providers.js';
import { providerFactory } from '../providers/provider-factory.js';
import { ProviderChanges } from '../providers/provider-changes.js';
import type { PeerSignals } from '../runtime/peer-signals.js';

/**
 * The channel providers: in-app always; per channel, the providers operators configure through
 * the API (`provider_configs`, picked up while running once `refresh` or `watch` is called);
 * email from HERALD_SMTP_URL when no email provider is configured; the sandbox for the rest
 * when it is on.
 */
export function buildProviders(
  config: Config,
  db: Db,
  hub: InboxHub,
  clock: Clock,
  log?: Logger,
  /** The store's peer signals: configuration changes made elsewhere are picked up at once. */
  signals?: PeerSignals,
): ProviderRegistry {
  const providers = new ProviderRegistry(config.sandbox ? new SandboxProvider(db, clock) : null);
  providers.setDefault('in_app', new InAppProvider(db, hub, clock));
  if (config.smtpUrl) providers.setDefault('email', emailProvider(config));
  providers.useConfigured(
    new ConfiguredProviders({
      db,
      factory: providerFactory({
        allowCidrs: config.outboundAllowCidrs,
        publicUrl: config.publicUrl,
      }),
      changes: new ProviderChanges(signals ?? join(config.dataDir, 'herald.db')),
      ...(log ? { log } : {}),
    }),
  );
  return providers;
}

/** The relay is not contacted here: the pool connects on the first mail. */
function emailProvider(config: Config): EmailProvider {
  try {
    parseMailbox(config.smtpFrom);
  } catch (err) {
    throw new ConfigError(
      `HERALD_SMTP_FROM must be set to the sender when HERALD_SMTP_URL is: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return new EmailProvider({
    url: config.smtpUrl,
    from: config.smtpFrom,
    publicUrl: config.publicUrl,
  });
}
