import type { Config } from '../config/config.js';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { InboxHub } from '../inbox/inbox-hub.js';
import { ProviderRegistry } from './provider-registry.js';
import { SandboxProvider } from './sandbox/sandbox-provider.js';
import { InAppProvider } from './in-app/in-app-provider.js';

/** The channel providers this configuration gives (real ones arrive with later issues). */
export function buildProviders(
  config: Config,
  db: Db,
  hub: InboxHub,
  clock: Clock,
): ProviderRegistry {
  const providers = new ProviderRegistry(config.sandbox ? new SandboxProvider(db, clock) : null);
  providers.register('in_app', new InAppProvider(db, hub, clock));
  return providers;
}
