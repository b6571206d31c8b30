import { ConfigError, type Config } from '../config/config.js';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { InboxHub } from '../inbox/inbox-hub.js';
import { ProviderRegistry } from './provider-registry.js';
import { SandboxProvider } from './sandbox/sandbox-provider.js';
import { InAppProvider } from './in-app/in-app-provider.js';
import { EmailProvider } from './email/email-provider.js';
import { parseMailbox } from './email/email-headers.js';

/** The channel providers this configuration gives (real ones arrive with later issues). */
export function buildProviders(
  config: Config,
  db: Db,
  hub: InboxHub,
  clock: Clock,
): ProviderRegistry {
  const providers = new ProviderRegistry(config.sandbox ? new SandboxProvider(db, clock) : null);
  providers.register('in_app', new InAppProvider(db, hub, clock));
  if (config.smtpUrl) providers.register('email', emailProvider(config));
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
