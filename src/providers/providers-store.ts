import type { Db, Tx } from '../store/database.js';
import type { ProviderConfigsTable } from '../store/schema.js';
import { newId } from '../store/ids.js';
import type { Channel } from '../channels/channel.js';
import {
  KIND_CHANNEL,
  type ProviderKind,
  type ProviderLimits,
  type SmtpSecrets,
  type SmtpSettings,
  type WebhookSecrets,
  type WebhookSettings,
} from './provider-kinds.js';

interface ProviderConfigBase {
  readonly id: string;
  /** Unique and immutable: shown on deliveries, in metrics and in the API's paths. */
  readonly name: string;
  readonly channel: Channel;
  readonly priority: number;
  readonly weight: number;
  readonly enabled: boolean;
  readonly limits: ProviderLimits;
  readonly createdAt: number;
  readonly updatedAt: number;
  /**
   * Changes whenever what the provider does changes (kind, settings, secrets, limits): the
   * registry rebuilds a provider only when this differs, keeping breaker and bucket state.
   */
  readonly fingerprint: string;
}

export type ProviderConfig = ProviderConfigBase &
  (
    | { readonly kind: 'smtp'; readonly settings: SmtpSettings; readonly secrets: SmtpSecrets }
    | {
        readonly kind: 'webhook';
        readonly settings: WebhookSettings;
        readonly secrets: WebhookSecrets;
      }
  );

/** What a create or an update stores (validated by the caller). */
export interface ProviderConfigInput {
  readonly name: string;
  readonly kind: ProviderKind;
  readonly priority: number;
  readonly weight: number;
  readonly enabled: boolean;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly secrets: Readonly<Record<string, string>>;
  readonly limits: ProviderLimits;
}

/** The settings row whose value changes with every provider change (see `bumpProvidersVersion`). */
export const PROVIDERS_VERSION_KEY = 'providers_version';

function toConfig(r: ProviderConfigsTable): ProviderConfig {
  return {
    id: r.id,
    name: r.name,
    channel: r.channel as Channel,
    kind: r.kind as ProviderKind,
    priority: Number(r.priority),
    weight: Number(r.weight),
    enabled: Number(r.enabled) === 1,
    settings: JSON.parse(r.settings) as SmtpSettings & WebhookSettings,
    secrets: JSON.parse(r.secrets) as SmtpSecrets & WebhookSecrets,
    limits: JSON.parse(r.limits) as ProviderLimits,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    fingerprint: `${r.kind}\u0000${r.settings}\u0000${r.secrets}\u0000${r.limits}`,
  } as ProviderConfig;
}

export async function listProviderConfigs(db: Db): Promise<ProviderConfig[]> {
  const rows = await db
    .selectFrom('provider_configs')
    .selectAll()
    .orderBy('channel')
    .orderBy('priority')
    .orderBy('name')
    .execute();
  return rows.map(toConfig);
}

export async function getProviderConfig(db: Db, name: string): Promise<ProviderConfig | null> {
  const row = await db
    .selectFrom('provider_configs')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  return row ? toConfig(row) : null;
}

/** Inserts a provider; null when the name is taken (also by a concurrent insert). */
export async function insertProviderConfig(
  tx: Tx,
  input: ProviderConfigInput,
  now: number,
): Promise<ProviderConfig | null> {
  const row: ProviderConfigsTable = {
    id: newId(now),
    name: input.name,
    channel: KIND_CHANNEL[input.kind],
    kind: input.kind,
    priority: input.priority,
    weight: input.weight,
    enabled: input.enabled ? 1 : 0,
    settings: JSON.stringify(input.settings),
    secrets: JSON.stringify(input.secrets),
    limits: JSON.stringify(input.limits),
    created_at: now,
    updated_at: now,
  };
  const inserted = await tx
    .insertInto('provider_configs')
    .values(row)
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  if ((inserted.numInsertedOrUpdatedRows ?? 0n) === 0n) return null;
  await bumpProvidersVersion(tx, now);
  return toConfig(row);
}

/** Replaces the mutable fields of `name` (everything but name and kind). */
export async function updateProviderConfig(
  tx: Tx,
  name: string,
  input: Omit<ProviderConfigInput, 'name' | 'kind'>,
  now: number,
): Promise<ProviderConfig | null> {
  const result = await tx
    .updateTable('provider_configs')
    .set({
      priority: input.priority,
      weight: input.weight,
      enabled: input.enabled ? 1 : 0,
      settings: JSON.stringify(input.settings),
      secrets: JSON.stringify(input.secrets),
      limits: JSON.stringify(input.limits),
      updated_at: now,
    })
    .where('name', '=', name)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return null;
  await bumpProvidersVersion(tx, now);
  return getProviderConfig(tx, name);
}

export async function deleteProviderConfig(tx: Tx, name: string, now: number): Promise<boolean> {
  const result = await tx
    .deleteFrom('provider_configs')
    .where('name', '=', name)
    .executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) return false;
  await bumpProvidersVersion(tx, now);
  return true;
}

/**
 * Gives the provider configuration a new version, in the caller's transaction: running
 * registries compare it with the one they built from and reload when it differs.
 */
export async function bumpProvidersVersion(tx: Tx, now: number): Promise<string> {
  const version = newId(now);
  await tx
    .insertInto('settings')
    .values({ key: PROVIDERS_VERSION_KEY, value: version })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: version }))
    .execute();
  return version;
}

/** The current version; null until the first provider change. One indexed row: cheap. */
export async function readProvidersVersion(db: Db): Promise<string | null> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', PROVIDERS_VERSION_KEY)
    .executeTakeFirst();
  return row?.value ?? null;
}
